import { IdentifierPathError } from "./errors.js";
import {
  PathSyntaxError,
  parseSteps,
  selectsMany,
  type Condition,
  type Step,
} from "./identifier-path-syntax.js";

/**
 * Evaluator of the gjson path subset that `identifierPathOnPayload` accepts, compiled once
 * per Config and run on every parsed document. Semantics follow github.com/tidwall/gjson
 * (SYNTAX.md and gjson.go):
 *
 * - `a.b.c` selects object keys. `\` makes the next character literal, as in `fav\.movie`.
 * - A part made only of digits indexes an array, and on an object it names the key, so
 *   `0.data` reads `{"0":{"data":…}}` and `[{"data":…}]` alike.
 * - `*` matches any run of characters and `?` one character, inside object keys only. The
 *   first matching key wins.
 * - `#` is the length of an array. `#.rest` evaluates `rest` on every element.
 * - `#(key=="value")` selects the first matching element and `#(key=="value")#` every match.
 *
 * Anything else (modifiers `@`, pipes `|`, JSON Lines `..`, multipaths `[…]` and `{…}`,
 * literals `!`, other query operators) throws `IdentifierPathError`.
 *
 * Documents come from `JSON.parse`, which keeps the last of duplicate keys where gjson
 * reads the first one.
 */

/** Result of evaluating a path on one document. */
export type IdentifierPathResult =
  | {
      readonly kind: "found";
      /**
       * One value, unless the path contains `#.` or `#(…)#`, which select one value per
       * array element. Such a path that selects no element returns `missing`, where gjson
       * returns an empty array.
       */
      readonly values: readonly unknown[];
    }
  | { readonly kind: "missing" };

/** A compiled identifier path. */
export interface IdentifierPath {
  /** The path text as written in the Config. */
  readonly source: string;
  /** Whether a `#.` or `#(…)#` part, outside any query, selects one value per array element. */
  readonly multiple: boolean;
  /** Evaluates the path on a document produced by `JSON.parse`. */
  evaluate(document: unknown): IdentifierPathResult;
}

/**
 * Compiles a gjson path. Throws `IdentifierPathError` naming the unsupported or malformed
 * part, so a bad path fails when the Config loads instead of on every document.
 */
export function compileIdentifierPath(path: string): IdentifierPath {
  let steps: Step[];
  try {
    steps = parseSteps(path);
  } catch (error) {
    if (error instanceof PathSyntaxError) throw new IdentifierPathError(path, error.message);
    throw error;
  }

  const multiple = selectsMany(steps);
  return {
    source: path,
    multiple,
    evaluate(document: unknown): IdentifierPathResult {
      const selection = evaluateSteps(steps, 0, document);
      if (selection === undefined) return MISSING;
      if (!selection.many) return { kind: "found", values: [selection.value] };

      const values = selection.value as unknown[];
      return values.length > 0 ? { kind: "found", values } : MISSING;
    },
  };
}

const MISSING: IdentifierPathResult = Object.freeze({ kind: "missing" });

/** A selected value; `many` marks an array built from several elements by `#.` or `#(…)#`. */
interface Selection {
  readonly value: unknown;
  readonly many: boolean;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Evaluates `steps[from…]` on `value`; undefined means the path selects nothing. */
function evaluateSteps(
  steps: readonly Step[],
  from: number,
  value: unknown,
): Selection | undefined {
  let current = value;
  for (let i = from; i < steps.length; i++) {
    const step = steps[i]!;
    switch (step.type) {
      case "key":
        if (step.pattern !== undefined) return evaluateWildcard(steps, i, current);
        if (Array.isArray(current)) {
          if (step.index === undefined || step.index >= current.length) return undefined;
          current = current[step.index];
        } else if (isObject(current) && Object.hasOwn(current, step.name)) {
          current = current[step.name];
        } else {
          return undefined;
        }
        break;
      case "count":
        if (Array.isArray(current)) return { value: current.length, many: false };
        if (!isObject(current) || !Object.hasOwn(current, "#")) return undefined;
        current = current["#"];
        break;
      case "each":
        return evaluateEach(step.rest, current);
      case "query":
        return evaluateQuery(step, current);
    }
  }
  return { value: current, many: false };
}

/**
 * Tries each key that matches the wildcard at `steps[at]` and returns the first for which the
 * rest of the path selects something, as gjson does.
 */
function evaluateWildcard(
  steps: readonly Step[],
  at: number,
  value: unknown,
): Selection | undefined {
  const step = steps[at];
  if (!isObject(value) || step?.type !== "key" || step.pattern === undefined) return undefined;

  // NOTE: gjson visits keys in document order. JavaScript objects list integer-like keys
  // first, so a wildcard that matches both kinds of key may select a different one.
  for (const key of Object.keys(value)) {
    if (!step.pattern.test(key)) continue;
    const selection = evaluateSteps(steps, at + 1, value[key]);
    if (selection !== undefined) return selection;
  }
  return undefined;
}

function evaluateEach(rest: readonly Step[], value: unknown): Selection | undefined {
  if (isObject(value)) {
    // On an object, `#` is an ordinary key, as in gjson.
    return Object.hasOwn(value, "#") ? evaluateSteps(rest, 0, value["#"]) : undefined;
  }
  if (!Array.isArray(value)) return undefined;

  const results: unknown[] = [];
  for (const element of value) {
    const selection = evaluateSteps(rest, 0, element);
    if (selection !== undefined) results.push(selection.value);
  }
  return { value: results, many: true };
}

function evaluateQuery(
  step: Extract<Step, { type: "query" }>,
  value: unknown,
): Selection | undefined {
  if (!Array.isArray(value)) return undefined;

  const results: unknown[] = [];
  for (const element of value) {
    if (!matchesCondition(step.condition, element)) continue;
    const selection =
      step.rest === undefined
        ? { value: element, many: false }
        : evaluateSteps(step.rest, 0, element);
    if (!step.all) return selection;
    if (selection !== undefined) results.push(selection.value);
  }
  return step.all ? { value: results, many: true } : undefined;
}

/** Applies gjson's comparison, which converts the operand to the type of the document value. */
function matchesCondition(condition: Condition, element: unknown): boolean {
  let value = element;
  if (condition.path !== undefined) {
    if (typeof element !== "object" || element === null) return false;
    const selection = evaluateSteps(condition.path, 0, element);
    if (selection === undefined) return false;
    value = selection.value;
  }

  if (condition.operator === "exists") return true;
  if (typeof value === "string") return value === condition.operand;
  if (typeof value === "number") return value === parseGoFloat(condition.operand);
  if (value === true) return condition.operand === "true";
  if (value === false) return condition.operand === "false";
  return false;
}

const DECIMAL_NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * Converts a query operand the way gjson's `strconv.ParseFloat` call does: text that is not
 * a number compares as 0. Hexadecimal floats, which Go also accepts, compare as 0 here.
 */
function parseGoFloat(text: string): number {
  if (DECIMAL_NUMBER.test(text)) return Number(text);
  const lower = text.toLowerCase().replace(/^\+/, "");
  if (lower === "inf" || lower === "infinity") return Infinity;
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  return lower === "nan" ? NaN : 0;
}
