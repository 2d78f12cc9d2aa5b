import type { IdentifierPath } from "../shared/identifier-path.js";
import { MessageResult } from "../shared/metrics.js";
import { extractIdentifiers } from "./document-identifiers.js";
import { MAX_IDENTIFIER_BYTES, type IdentifierRejection } from "./identifier-rules.js";

/** Identifiers read from one Webhook request body, or the 400 message explaining why none. */
export type WebhookPayload =
  | {
      readonly kind: "accepted";
      readonly identifiers: readonly string[];
      /** Reasons of selected strings that failed `checkIdentifier` next to accepted ones. */
      readonly rejectedIdentifiers: readonly IdentifierRejection[];
    }
  | {
      readonly kind: "rejected";
      readonly result:
        | typeof MessageResult.InvalidJson
        | typeof MessageResult.MissingIdentifier
        | typeof MessageResult.NotString
        | typeof MessageResult.RejectedIdentifier
        | typeof MessageResult.TooManyIdentifiers;
      /** Response message; it names the path and JSON type but never quotes the payload. */
      readonly message: string;
      readonly rejectedIdentifiers: readonly IdentifierRejection[];
    };

const UTF8_BOM = "\uFEFF";

/**
 * Parses a request body as one JSON document and reads its identifiers at `path`. A JSON
 * array with a `#.` path yields one identifier per element.
 */
export function readWebhookPayload(
  body: Buffer | undefined,
  path: IdentifierPath,
  maxIdentifiers: number,
): WebhookPayload {
  if (body === undefined || body.length === 0) {
    return invalidJson("the request body is empty; send one JSON document");
  }

  let text = body.toString("utf8");
  if (text.startsWith(UTF8_BOM)) text = text.slice(UTF8_BOM.length);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the body, which may hold a secret, so only its position is kept.
    const position = /at position (\d+)/.exec((error as Error).message)?.[1];
    const where = position === undefined ? "" : ` at character ${position}`;
    return invalidJson(`the request body is not valid JSON${where}; send one JSON document`);
  }

  const extraction = extractIdentifiers(path, document, maxIdentifiers);
  if (extraction.kind === "accepted") {
    return {
      kind: "accepted",
      identifiers: extraction.identifiers,
      rejectedIdentifiers: extraction.rejectedIdentifiers,
    };
  }

  const field = `identifierPathOnPayload ${JSON.stringify(path.source)}`;
  switch (extraction.reason) {
    case MessageResult.MissingIdentifier:
      return {
        kind: "rejected",
        result: extraction.reason,
        message: `the document has no value at ${field}`,
        rejectedIdentifiers: [],
      };
    case MessageResult.NotString:
      return {
        kind: "rejected",
        result: extraction.reason,
        message: `the value at ${field} is ${extraction.valueType ?? "not a string"}; expected a string`,
        rejectedIdentifiers: [],
      };
    case MessageResult.TooManyIdentifiers:
      return {
        kind: "rejected",
        result: extraction.reason,
        message:
          `${field} selects ${extraction.selectedValues ?? "too many"} values, more than ` +
          `maxIdentifiersPerMessage (${maxIdentifiers}); split them across several requests`,
        rejectedIdentifiers: [],
      };
    case MessageResult.RejectedIdentifier:
      return {
        kind: "rejected",
        result: extraction.reason,
        message:
          `the identifier at ${field} was rejected ` +
          `(${[...new Set(extraction.rejectedIdentifiers)].join(", ")}); an identifier must be ` +
          `a non-empty string of at most ${MAX_IDENTIFIER_BYTES} UTF-8 bytes, without ` +
          "control, invisible or undecodable characters and not a Vault HMAC (hmac-sha256:...)",
        rejectedIdentifiers: extraction.rejectedIdentifiers,
      };
  }
}

function invalidJson(message: string): WebhookPayload {
  return { kind: "rejected", result: MessageResult.InvalidJson, message, rejectedIdentifiers: [] };
}
