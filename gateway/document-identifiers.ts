import type { IdentifierPath } from "../shared/identifier-path.js";
import { MessageResult } from "../shared/metrics.js";
import { checkIdentifier, type IdentifierRejection } from "./identifier-rules.js";

/** Identifiers read from one document, or why it has none. */
export type IdentifierExtraction =
  | {
      readonly kind: "accepted";
      /** Identifiers that passed `checkIdentifier`, in path order, without duplicates. */
      readonly identifiers: readonly string[];
      /** Selected values that were not strings and were skipped. */
      readonly skippedValues: number;
      /** Reasons of the selected strings that failed `checkIdentifier`. */
      readonly rejectedIdentifiers: readonly IdentifierRejection[];
    }
  | {
      readonly kind: "rejected";
      readonly reason:
        | typeof MessageResult.MissingIdentifier
        | typeof MessageResult.NotString
        | typeof MessageResult.RejectedIdentifier
        | typeof MessageResult.TooManyIdentifiers;
      /** JSON type of the first selected value, such as `number`; absent when nothing was selected. */
      readonly valueType?: string;
      /** Number of values the path selected, set for `too_many_identifiers`. */
      readonly selectedValues?: number;
      /** Reason the document has no identifier, when the source knows more than `reason` names. */
      readonly detail?: string;
      /** Reasons of the selected strings that failed `checkIdentifier`. */
      readonly rejectedIdentifiers: readonly IdentifierRejection[];
    };

/**
 * Evaluates the identifier path on a parsed document. A document is accepted when the path
 * selects at least one string that passes `checkIdentifier`. When a path selects several
 * values (`#.` or `#(…)#`), the other values are skipped and counted. A document whose path
 * selects more than `maxIdentifiers` values is rejected whole, before any value is checked.
 */
export function extractIdentifiers(
  path: IdentifierPath,
  document: unknown,
  maxIdentifiers: number,
): IdentifierExtraction {
  const result = path.evaluate(document);
  if (result.kind === "missing") {
    return { kind: "rejected", reason: MessageResult.MissingIdentifier, rejectedIdentifiers: [] };
  }
  if (result.values.length > maxIdentifiers) {
    return {
      kind: "rejected",
      reason: MessageResult.TooManyIdentifiers,
      selectedValues: result.values.length,
      rejectedIdentifiers: [],
    };
  }

  const identifiers = new Set<string>();
  const rejectedIdentifiers: IdentifierRejection[] = [];
  let skippedValues = 0;
  for (const value of result.values) {
    if (typeof value !== "string") {
      skippedValues += 1;
      continue;
    }
    const rejection = checkIdentifier(value);
    if (rejection === undefined) identifiers.add(value);
    else rejectedIdentifiers.push(rejection);
  }

  if (identifiers.size > 0) {
    return { kind: "accepted", identifiers: [...identifiers], skippedValues, rejectedIdentifiers };
  }
  return {
    kind: "rejected",
    reason:
      rejectedIdentifiers.length > 0 ? MessageResult.RejectedIdentifier : MessageResult.NotString,
    valueType: describeJsonType(result.values[0]),
    rejectedIdentifiers,
  };
}

/** Names the JSON type of a parsed value for logs, without quoting the value. */
export function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value === "") return "empty string";
  return typeof value;
}
