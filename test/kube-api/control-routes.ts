import type { ServerResponse } from "node:http";

import { ApiError, badRequest, methodNotAllowed, pathNotFound } from "./api-status.js";
import { sendJson } from "./http-io.js";
import type { FaultInjector, FaultRule } from "./fault-injector.js";
import type { ObjectStore } from "./object-store.js";
import type { RequestLog } from "./request-log.js";
import type { WatchHub } from "./watch-hub.js";

/** Path prefix of the emulator's own endpoints, which fault rules and the request log never see. */
export const controlPathPrefix = "/_emulator/";

/** What the control endpoints act on. */
export interface ControlTargets {
  store: ObjectStore;
  faults: FaultInjector;
  requests: RequestLog;
  watches: WatchHub;
}

function parseRules(body: Buffer): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw badRequest(`the fault rule body is not valid JSON: ${(error as Error).message}`);
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

function addFaults(faults: FaultInjector, body: Buffer, res: ServerResponse): void {
  const rules = parseRules(body);
  const added = [];
  try {
    for (const rule of rules) {
      added.push(faults.add(rule as FaultRule));
    }
  } catch (error) {
    for (const rule of added) {
      faults.remove(rule.id);
    }
    throw badRequest((error as Error).message);
  }
  sendJson(res, 201, { items: added });
}

function handleFaults(
  targets: ControlTargets,
  method: string,
  id: string | undefined,
  body: Buffer,
  res: ServerResponse,
): void {
  if (id !== undefined) {
    if (method !== "DELETE") {
      throw methodNotAllowed(method, `${controlPathPrefix}faults/${id}`);
    }
    if (!targets.faults.remove(id)) {
      throw new ApiError(
        404,
        "NotFound",
        `fault rule "${id}" not found; GET ${controlPathPrefix}faults lists the rules in effect`,
      );
    }
    sendJson(res, 200, { removed: 1 });
    return;
  }

  switch (method) {
    case "GET":
      sendJson(res, 200, { items: targets.faults.list() });
      return;
    case "POST":
      addFaults(targets.faults, body, res);
      return;
    case "DELETE":
      sendJson(res, 200, { removed: targets.faults.clear() });
      return;
    default:
      throw methodNotAllowed(method, `${controlPathPrefix}faults`);
  }
}

/**
 * Serves the emulator's own endpoints:
 * `GET|POST|DELETE /_emulator/faults`, `DELETE /_emulator/faults/{id}`,
 * `GET|DELETE /_emulator/requests`, `POST /_emulator/watches/close` and `POST /_emulator/compact`.
 * Throws ApiError for unknown paths, wrong methods and invalid bodies.
 */
export function handleControlRequest(
  targets: ControlTargets,
  method: string,
  pathname: string,
  body: Buffer,
  res: ServerResponse,
): void {
  const route = pathname.slice(controlPathPrefix.length);

  const faultsMatch = /^faults(?:\/([^/]+))?$/.exec(route);
  if (faultsMatch !== null) {
    handleFaults(targets, method, faultsMatch[1], body, res);
    return;
  }

  switch (`${method} ${route}`) {
    case "GET requests":
      sendJson(res, 200, { items: targets.requests.list() });
      return;
    case "DELETE requests":
      targets.requests.clear();
      sendJson(res, 200, {});
      return;
    case "POST watches/close":
      sendJson(res, 200, { closed: targets.watches.closeAll() });
      return;
    case "POST compact":
      sendJson(res, 200, { compactedResourceVersion: String(targets.store.compact()) });
      return;
    default:
      throw pathNotFound();
  }
}
