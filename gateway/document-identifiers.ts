import type { IdentifierPath } from "../shared/identifier-path.js";
import { MessageResult } from "../shared/metrics.js";

/** Identifiers read from one document, or why it has none. */
export type IdentifierExtraction =
  | {
      readonly kind: "accepted";
      /** Non-empty strings in path order, without duplicates. */
      readonly identifiers: readonly string[];
      /** Selected values that were not non-empty strings and were skipped. */
      readonly skippedValues: number;
    }
  | {
      readonly kind: "rejected";
      readonly reason: typeof MessageResult.MissingIdentifier | typeof MessageResult.NotString;
      /** JSON type of the first selected value, such as `number`; absent when nothing was selected. */
      readonly valueType?: string;
    };

/**
 * Evaluates the identifier path on a parsed document. A document is accepted when the path
 * selects at least one non-empty string. When a path selects several values (`#.` or
 * `#(…)#`), values that are not non-empty strings are skipped.
 */
export function extractIdentifiers(path: IdentifierPath, document: unknown): IdentifierExtraction {
  const result = path.evaluate(document);
  if (result.kind === "missing") {
    return { kind: "rejected", reason: MessageResult.MissingIdentifier };
  }

  const identifiers = new Set<string>();
  let skippedValues = 0;
  for (const value of result.values) {
    if (typeof value === "string" && value.length > 0) identifiers.add(value);
    else skippedValues += 1;
  }

  if (identifiers.size === 0) {
    return {
      kind: "rejected",
      reason: MessageResult.NotString,
      valueType: describeJsonType(result.values[0]),
    };
  }
  return { kind: "accepted", identifiers: [...identifiers], skippedValues };
}

/** Names the JSON type of a parsed value for logs, without quoting the value. */
export function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value === "") return "empty string";
  return typeof value;
}
