import { IdentifierPathError } from "./errors.js";

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

/** One component of a compiled path. */
type Step =
  | {
      readonly type: "key";
      readonly name: string;
      /** Set when the key contains unescaped `*` or `?`. */
      readonly pattern: RegExp | undefined;
      /** Set when the part is plain digits, so it can index an array. */
      readonly index: number | undefined;
    }
  | { readonly type: "count" }
  | { readonly type: "each"; readonly rest: Step[] }
  | {
      readonly type: "query";
      readonly condition: Condition;
      readonly all: boolean;
      readonly rest: Step[] | undefined;
    };

/** Test of a `#(…)` query. An undefined `path` tests the element itself. */
interface Condition {
  readonly path: Step[] | undefined;
  readonly operator: "exists" | "equals";
  /** Right-hand side, unquoted and unescaped. */
  readonly operand: string;
}

/** A selected value; `many` marks an array built from several elements by `#.` or `#(…)#`. */
interface Selection {
  readonly value: unknown;
  readonly many: boolean;
}

/** Internal syntax error; `compileIdentifierPath` wraps it with the full path. */
class PathSyntaxError extends Error {}

function selectsMany(steps: readonly Step[]): boolean {
  const last = steps[steps.length - 1];
  if (last === undefined) return false;
  if (last.type === "each") return true;
  if (last.type === "query") return last.all || (last.rest !== undefined && selectsMany(last.rest));
  return false;
}

function parseSteps(path: string): Step[] {
  if (path.length === 0) {
    throw new PathSyntaxError("the path is empty; write a key such as 0.data.ObjectName");
  }
  if (path.startsWith("..")) {
    throw new PathSyntaxError("JSON Lines paths (starting with '..') are not supported");
  }

  const steps: Step[] = [];
  let position = 0;
  for (;;) {
    const parsed = parseComponent(path, position);
    steps.push(parsed.step);
    if (parsed.end) return steps;
    position = parsed.next;
  }
}

/** One parsed component and where the next one starts; `end` means the path is done. */
interface ParsedComponent {
  readonly step: Step;
  readonly next: number;
  readonly end: boolean;
}

function parseComponent(path: string, start: number): ParsedComponent {
  const first = path[start];
  if (first === undefined || first === ".") {
    throw new PathSyntaxError(
      `empty key at character ${start + 1}; remove the extra '.' or escape it as '\\.'`,
    );
  }
  if (first === "@") {
    throw new PathSyntaxError(`modifiers such as '${path.slice(start)}' are not supported`);
  }
  if (first === "[" || first === "{") {
    throw new PathSyntaxError(
      `multipaths ('${first}…') at character ${start + 1} are not supported`,
    );
  }
  if (first === "!") {
    throw new PathSyntaxError(
      `literals ('!…') at character ${start + 1} are not supported; write '\\!' for a key that starts with '!'`,
    );
  }
  if (first === "#") {
    const special = parseArrayComponent(path, start);
    if (special !== undefined) return special;
  }
  return parseKeyComponent(path, start);
}

/** Parses `#`, `#.rest`, `#(…)` and `#(…)#`; returns undefined for a key such as `#x`. */
function parseArrayComponent(path: string, start: number): ParsedComponent | undefined {
  const next = path[start + 1];
  if (next === undefined) return { step: { type: "count" }, next: start + 1, end: true };
  if (next === ".") {
    return {
      step: { type: "each", rest: parseSteps(path.slice(start + 2)) },
      next: path.length,
      end: true,
    };
  }
  if (next === "[") {
    throw new PathSyntaxError(
      `'#[' at character ${start + 1} is the old query syntax; write '#(…)' instead`,
    );
  }
  if (next === "|") {
    throw new PathSyntaxError(`pipes ('|') at character ${start + 2} are not supported`);
  }
  if (next !== "(") return undefined;

  const close = findQueryEnd(path, start + 2);
  const condition = parseCondition(path.slice(start + 2, close));
  let position = close + 1;
  const all = path[position] === "#";
  if (all) position += 1;

  if (position === path.length) {
    return { step: { type: "query", condition, all, rest: undefined }, next: position, end: true };
  }
  if (path[position] !== ".") {
    throw new PathSyntaxError(
      `unexpected '${path[position]}' at character ${position + 1} after a query; expected '.' or the end of the path`,
    );
  }
  const rest = parseSteps(path.slice(position + 1));
  return { step: { type: "query", condition, all, rest }, next: path.length, end: true };
}

/** Returns the index of the `)` that closes a query whose text starts at `start`. */
function findQueryEnd(path: string, start: number): number {
  let depth = 1;
  for (let i = start; i < path.length; i++) {
    const character = path[i];
    if (character === "\\") {
      i += 1;
    } else if (character === "(" || character === "[") {
      depth += 1;
    } else if (character === ")" || character === "]") {
      depth -= 1;
      if (depth === 0) return i;
    } else if (character === '"') {
      i = findStringEnd(path, i + 1);
    }
  }
  throw new PathSyntaxError(`the query at character ${start - 1} is not closed with ')'`);
}

/** Returns the index of the `"` that ends a quoted string, or the path length if none does. */
function findStringEnd(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    if (text[i] === "\\") i += 1;
    else if (text[i] === '"') return i;
  }
  return text.length;
}

const OPERATOR_CHARACTERS = new Set(["!", "=", "<", ">", "%"]);

/** Parses the text between `#(` and `)`, splitting at the first operator outside brackets. */
function parseCondition(query: string): Condition {
  let operatorStart = -1;
  let depth = 0;
  for (let i = 0; i < query.length && operatorStart < 0; i++) {
    const character = query[i] ?? "";
    if (depth === 0 && OPERATOR_CHARACTERS.has(character)) operatorStart = i;
    else if (character === "\\") i += 1;
    else if (character === "(" || character === "[") depth += 1;
    else if (character === ")" || character === "]") depth -= 1;
    else if (character === '"') i = findStringEnd(query, i + 1);
  }

  const pathText = (operatorStart < 0 ? query : query.slice(0, operatorStart)).trim();
  const path = pathText.length > 0 ? parseSteps(pathText) : undefined;
  if (operatorStart < 0) {
    if (path === undefined) throw new PathSyntaxError("the query '#()' has no condition");
    return { path, operator: "exists", operand: "" };
  }

  const comparison = query.slice(operatorStart);
  const operator = comparison.startsWith("==") ? "==" : comparison.slice(0, 1);
  const twoCharacters = comparison.slice(0, 2);
  if (operator !== "==" && operator !== "=") {
    const written = ["!=", "!%", "<=", ">="].includes(twoCharacters) ? twoCharacters : operator;
    throw new PathSyntaxError(
      `the query operator '${written}' in '#(${query})' is not supported; only '==' is`,
    );
  }
  const operand = parseOperand(comparison.slice(operator.length).trim());
  return { path, operator: "equals", operand };
}

function parseOperand(text: string): string {
  if (text.startsWith("~")) {
    throw new PathSyntaxError(`truthy queries ('~${text.slice(1)}') are not supported`);
  }
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return text;
  try {
    return JSON.parse(text) as string;
  } catch {
    throw new PathSyntaxError(`the query value ${text} is not a valid JSON string`);
  }
}

function parseKeyComponent(path: string, start: number): ParsedComponent {
  let name = "";
  let pattern = "";
  let wildcard = false;
  let escaped = false;
  let i = start;
  for (; i < path.length; i++) {
    const character = path[i] ?? "";
    if (character === ".") break;
    if (character === "|") {
      throw new PathSyntaxError(`pipes ('|') at character ${i + 1} are not supported`);
    }

    if (character === "\\") {
      const literal = path[i + 1];
      if (literal === undefined) {
        throw new PathSyntaxError("the path ends with '\\'; escape a backslash as '\\\\'");
      }
      name += literal;
      pattern += escapeRegExp(literal);
      escaped = true;
      i += 1;
    } else if (character === "*" || character === "?") {
      name += character;
      pattern += character === "*" ? "[^]*" : ".";
      wildcard = true;
    } else {
      name += character;
      pattern += escapeRegExp(character);
    }
  }

  const isIndex = !escaped && !wildcard && /^[0-9]+$/.test(name);
  const step: Step = {
    type: "key",
    name,
    pattern: wildcard ? new RegExp(`^${pattern}$`, "su") : undefined,
    index: isIndex ? Number(name) : undefined,
  };
  if (i >= path.length) return { step, next: i, end: true };
  if (i + 1 >= path.length) {
    throw new PathSyntaxError("the path ends with '.'; remove it or escape it as '\\.'");
  }
  return { step, next: i + 1, end: false };
}

function escapeRegExp(character: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(character) ? `\\${character}` : character;
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
