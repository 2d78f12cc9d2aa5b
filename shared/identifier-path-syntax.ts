import { RE2JS } from "re2js";

/**
 * Parser of the gjson path subset that identifier paths accept. It turns the path text into
 * steps once, so evaluation on every document does no string work.
 */

/** A key with `*` or `?` wildcards, matched against whole keys. */
export interface KeyPattern {
  test(key: string): boolean;
}

/** One component of a compiled path. */
export type Step =
  | {
      readonly type: "key";
      readonly name: string;
      /** Set when the key contains unescaped `*` or `?`. */
      readonly pattern: KeyPattern | undefined;
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
export interface Condition {
  readonly path: Step[] | undefined;
  readonly operator: "exists" | "equals";
  /** Right-hand side, unquoted and unescaped. */
  readonly operand: string;
}

/** Internal syntax error; `compileIdentifierPath` wraps it with the full path. */
export class PathSyntaxError extends Error {}

/** Tells whether the steps end in a `#.` or `#(…)#` part that selects one value per element. */
export function selectsMany(steps: readonly Step[]): boolean {
  const last = steps[steps.length - 1];
  if (last === undefined) return false;
  if (last.type === "each") return true;
  if (last.type === "query") return last.all || (last.rest !== undefined && selectsMany(last.rest));
  return false;
}

/** Parses a path into steps. Throws `PathSyntaxError` naming the unsupported part. */
export function parseSteps(path: string): Step[] {
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
      pattern += RE2JS.quote(literal);
      escaped = true;
      i += 1;
    } else if (character === "*" || character === "?") {
      name += character;
      pattern += character === "*" ? ".*" : ".";
      wildcard = true;
    } else {
      name += character;
      pattern += RE2JS.quote(character);
    }
  }

  const isIndex = !escaped && !wildcard && /^[0-9]+$/.test(name);
  const step: Step = {
    type: "key",
    name,
    pattern: wildcard ? compileKeyPattern(pattern) : undefined,
    index: isIndex ? Number(name) : undefined,
  };
  if (i >= path.length) return { step, next: i, end: true };
  if (i + 1 >= path.length) {
    throw new PathSyntaxError("the path ends with '.'; remove it or escape it as '\\.'");
  }
  return { step, next: i + 1, end: false };
}

/**
 * Compiles a wildcard key with RE2, whose matching time is linear in the key length. A
 * backtracking RegExp took seconds for a pattern such as `*a*b` on a long key, and the
 * sender chooses the keys.
 */
function compileKeyPattern(pattern: string): KeyPattern {
  const expression = RE2JS.compile(pattern, RE2JS.DOTALL);
  return { test: (key) => expression.matches(key) };
}
