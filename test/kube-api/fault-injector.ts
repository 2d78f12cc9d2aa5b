import { randomUUID } from "node:crypto";

import { isJsonObject } from "./json-value.js";
import type { Verb } from "./request-path.js";

/**
 * A rule that makes matching requests fail or slow down. Every filter that is set must match, so
 * a rule with no filters matches every API request (requests to `/_emulator/` never match).
 */
export interface FaultRule {
  /** HTTP method, e.g. `PATCH`. */
  method?: string;
  /** Kubernetes verb: get, list, watch, create, update, patch, delete or deletecollection. */
  verb?: Verb;
  /** Resource plural as in RBAC rules: `externalsecrets` matches the main resource, `externalsecrets/status` the subresource. */
  resource?: string;
  /** API group of the resource, "" for core. */
  group?: string;
  namespace?: string;
  name?: string;
  /** Prefix of the URL path, e.g. `/apis` to fail discovery. */
  pathPrefix?: string;
  /** HTTP status of the response, e.g. 429, 500 or 503, sent with a matching Status body. */
  status?: number;
  /** Status message. The default message states that the failure was injected. */
  message?: string;
  /** Seconds for the `Retry-After` header. Unless set, 429 and 503 get 1 and other codes get none. */
  retryAfterSeconds?: number;
  /** Delay before the response (the fault status, or the normal response), in milliseconds. */
  latencyMs?: number;
  /** Destroy the connection without a response, as a network failure does. */
  resetConnection?: boolean;
  /** How many matching requests the rule applies to before it is removed. Unset means every one. */
  times?: number;
}

/** A rule in effect, with its id and how often it has fired. */
export interface ActiveFault extends FaultRule {
  id: string;
  matched: number;
}

/** What a request looks like to the fault rules. */
export interface FaultTarget {
  method: string;
  path: string;
  verb?: Verb;
  group?: string;
  resource?: string;
  namespace?: string;
  name?: string;
}

const verbs = new Set([
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
]);

function isNonNegativeInteger(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Checks a rule received over HTTP or from a test. Throws an Error naming the invalid field and the fix. */
export function checkFaultRule(rule: unknown): FaultRule {
  if (!isJsonObject(rule)) {
    throw new Error(
      'a fault rule must be a JSON object such as {"verb":"patch","status":429,"times":1}',
    );
  }
  if (
    rule["status"] === undefined &&
    rule["latencyMs"] === undefined &&
    rule["resetConnection"] !== true
  ) {
    throw new Error(
      "a fault rule needs status, latencyMs or resetConnection: true, or it would change nothing",
    );
  }
  if (
    rule["status"] !== undefined &&
    (!Number.isInteger(rule["status"]) ||
      (rule["status"] as number) < 400 ||
      (rule["status"] as number) > 599)
  ) {
    throw new Error(
      `fault status must be an HTTP error code from 400 to 599, got ${JSON.stringify(rule["status"])}`,
    );
  }
  if (rule["verb"] !== undefined && !verbs.has(String(rule["verb"]))) {
    throw new Error(
      `fault verb must be one of ${[...verbs].join(", ")}, got ${JSON.stringify(rule["verb"])}`,
    );
  }
  for (const field of ["latencyMs", "retryAfterSeconds"]) {
    if (rule[field] !== undefined && !isNonNegativeInteger(rule[field])) {
      throw new Error(
        `fault ${field} must be a non-negative integer, got ${JSON.stringify(rule[field])}`,
      );
    }
  }
  if (
    rule["times"] !== undefined &&
    (!isNonNegativeInteger(rule["times"]) || rule["times"] === 0)
  ) {
    throw new Error(
      `fault times must be a positive integer, or unset for every request; got ${JSON.stringify(rule["times"])}`,
    );
  }
  return rule as FaultRule;
}

function matches(rule: FaultRule, target: FaultTarget): boolean {
  return (
    (rule.method === undefined || rule.method.toUpperCase() === target.method) &&
    (rule.verb === undefined || rule.verb === target.verb) &&
    (rule.group === undefined || rule.group === target.group) &&
    (rule.namespace === undefined || rule.namespace === target.namespace) &&
    (rule.name === undefined || rule.name === target.name) &&
    (rule.pathPrefix === undefined || target.path.startsWith(rule.pathPrefix)) &&
    (rule.resource === undefined || rule.resource === target.resource)
  );
}

/** The fault rules of one emulator, applied in the order they were added. */
export class FaultInjector {
  private rules: ActiveFault[] = [];

  /** Adds a rule after checking it, and returns it with its id. */
  add(rule: FaultRule): ActiveFault {
    const active: ActiveFault = { ...checkFaultRule(rule), id: randomUUID(), matched: 0 };
    this.rules.push(active);
    return { ...active };
  }

  /** Removes one rule. Returns false when no rule has the id. */
  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((rule) => rule.id !== id);
    return this.rules.length < before;
  }

  /** Removes every rule. Returns how many there were. */
  clear(): number {
    const count = this.rules.length;
    this.rules = [];
    return count;
  }

  /** Returns copies of the rules in effect. */
  list(): ActiveFault[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  /** Finds the first rule matching a request, counts the match and removes the rule once `times` is used up. */
  take(target: FaultTarget): ActiveFault | undefined {
    const rule = this.rules.find((candidate) => matches(candidate, target));
    if (rule === undefined) {
      return undefined;
    }

    rule.matched += 1;
    if (rule.times !== undefined && rule.matched >= rule.times) {
      this.remove(rule.id);
    }
    return { ...rule };
  }
}
