import { labelKeyError, labelValueError } from "./object-validation.js";

/** One requirement of a label selector, e.g. `tier in (backend,frontend)`. */
export interface LabelRequirement {
  key: string;
  operator:
    | "exists"
    | "doesNotExist"
    | "equals"
    | "notEquals"
    | "in"
    | "notIn"
    | "greaterThan"
    | "lessThan";
  values: string[];
}

/** A parsed label selector: every requirement must hold (comma means AND). */
export type LabelSelector = LabelRequirement[];

/** Thrown for a selector that does not follow the Kubernetes label selector grammar. */
export class SelectorSyntaxError extends Error {
  override name = "SelectorSyntaxError";
}

type Token = { kind: "identifier"; text: string } | { kind: "symbol"; text: string };

const symbolStarts = new Set(["!", "=", "(", ")", ",", "<", ">"]);

function tokenize(selector: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;

  while (index < selector.length) {
    const char = selector.charAt(index);
    if (/\s/.test(char)) {
      index += 1;
      continue;
    }

    const twoChars = selector.slice(index, index + 2);
    if (twoChars === "==" || twoChars === "!=") {
      tokens.push({ kind: "symbol", text: twoChars });
      index += 2;
      continue;
    }

    if (symbolStarts.has(char)) {
      tokens.push({ kind: "symbol", text: char });
      index += 1;
      continue;
    }

    let end = index;
    while (
      end < selector.length &&
      !symbolStarts.has(selector.charAt(end)) &&
      !/\s/.test(selector.charAt(end))
    ) {
      end += 1;
    }
    tokens.push({ kind: "identifier", text: selector.slice(index, end) });
    index = end;
  }

  return tokens;
}

/** A cursor over the tokens of one selector, so each grammar rule reads as a small function. */
class TokenCursor {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly selector: string,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.position];
  }

  next(): Token | undefined {
    const token = this.tokens[this.position];
    this.position += 1;
    return token;
  }

  fail(expected: string): never {
    const found = this.peek()?.text ?? "end of selector";
    throw new SelectorSyntaxError(
      `invalid label selector "${this.selector}": expected ${expected}, found "${found}"`,
    );
  }

  expectIdentifier(expected: string): string {
    const token = this.peek();
    if (token?.kind !== "identifier") {
      this.fail(expected);
    }
    this.position += 1;
    return token.text;
  }

  isSymbol(text: string): boolean {
    const token = this.peek();
    return token?.kind === "symbol" && token.text === text;
  }
}

function parseValueSet(cursor: TokenCursor): string[] {
  if (!cursor.isSymbol("(")) {
    cursor.fail('"(" to open a value set');
  }
  cursor.next();
  if (cursor.isSymbol(")")) {
    cursor.fail('at least one value inside "( )"');
  }

  // As in Kubernetes, an empty slot such as the end of `(a,)` is the empty value.
  const values: string[] = [];
  for (;;) {
    values.push(parseSingleValue(cursor));
    const separator = cursor.next();
    if (separator?.kind === "symbol" && separator.text === ")") {
      return values;
    }
    if (separator?.kind !== "symbol" || separator.text !== ",") {
      throw new SelectorSyntaxError(
        `invalid label selector: expected "," or ")" in a value set, found "${separator?.text ?? "end of selector"}"`,
      );
    }
  }
}

function parseSingleValue(cursor: TokenCursor): string {
  const token = cursor.peek();
  if (token?.kind === "identifier") {
    cursor.next();
    return token.text;
  }
  // `key=` with nothing after it selects the empty value, as in Kubernetes.
  return "";
}

function parseRequirement(cursor: TokenCursor): LabelRequirement {
  if (cursor.isSymbol("!")) {
    cursor.next();
    return {
      key: cursor.expectIdentifier('a label key after "!"'),
      operator: "doesNotExist",
      values: [],
    };
  }

  const key = cursor.expectIdentifier("a label key");
  const operatorToken = cursor.peek();
  if (
    operatorToken === undefined ||
    (operatorToken.kind === "symbol" && operatorToken.text === ",")
  ) {
    return { key, operator: "exists", values: [] };
  }

  cursor.next();
  switch (operatorToken.text) {
    case "=":
    case "==":
      return { key, operator: "equals", values: [parseSingleValue(cursor)] };
    case "!=":
      return { key, operator: "notEquals", values: [parseSingleValue(cursor)] };
    case "in":
      return { key, operator: "in", values: parseValueSet(cursor) };
    case "notin":
      return { key, operator: "notIn", values: parseValueSet(cursor) };
    case ">":
    case "<": {
      const value = cursor.expectIdentifier('an integer after "' + operatorToken.text + '"');
      if (!/^-?\d+$/.test(value)) {
        throw new SelectorSyntaxError(
          `invalid label selector: "${value}" after "${operatorToken.text}" must be an integer`,
        );
      }
      return {
        key,
        operator: operatorToken.text === ">" ? "greaterThan" : "lessThan",
        values: [value],
      };
    }
    default:
      return cursor.fail('an operator (=, ==, !=, in, notin, <, >) or ","');
  }
}

function checkRequirement(requirement: LabelRequirement): void {
  const keyError = labelKeyError(requirement.key);
  if (keyError !== undefined) {
    throw new SelectorSyntaxError(`invalid label selector key "${requirement.key}": ${keyError}`);
  }

  if (requirement.operator === "greaterThan" || requirement.operator === "lessThan") {
    return;
  }
  for (const value of requirement.values) {
    const valueError = labelValueError(value);
    if (valueError !== undefined) {
      throw new SelectorSyntaxError(
        `invalid label selector value "${value}" for key "${requirement.key}": ${valueError}`,
      );
    }
  }
}

/**
 * Parses a label selector in the Kubernetes string syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, joined by commas. An empty string selects everything.
 * Throws SelectorSyntaxError naming the selector and the unexpected token.
 */
export function parseLabelSelector(selector: string): LabelSelector {
  const tokens = tokenize(selector);
  const cursor = new TokenCursor(tokens, selector);
  const requirements: LabelRequirement[] = [];

  while (cursor.peek() !== undefined) {
    const requirement = parseRequirement(cursor);
    checkRequirement(requirement);
    requirements.push(requirement);

    if (cursor.peek() === undefined) {
      break;
    }
    if (!cursor.isSymbol(",")) {
      cursor.fail('"," between requirements');
    }
    cursor.next();
    if (cursor.peek() === undefined) {
      cursor.fail('a requirement after ","');
    }
  }

  return requirements;
}

function matchesRequirement(
  requirement: LabelRequirement,
  labels: Record<string, string>,
): boolean {
  const present = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];

  switch (requirement.operator) {
    case "exists":
      return present;
    case "doesNotExist":
      return !present;
    case "equals":
    case "in":
      return present && requirement.values.includes(value ?? "");
    case "notEquals":
    case "notIn":
      return !present || !requirement.values.includes(value ?? "");
    case "greaterThan":
    case "lessThan": {
      if (!present || !/^-?\d+$/.test(value ?? "")) {
        return false;
      }
      const actual = Number(value);
      const bound = Number(requirement.values[0]);
      return requirement.operator === "greaterThan" ? actual > bound : actual < bound;
    }
  }
}

/** Reports whether a label set satisfies every requirement of the selector. */
export function matchesLabels(
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
): boolean {
  return selector.every((requirement) => matchesRequirement(requirement, labels ?? {}));
}
