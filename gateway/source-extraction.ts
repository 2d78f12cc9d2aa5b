import {
  SourceType,
  type HashicorpVaultSource,
  type NotificationSource,
  type TcpSocketSource,
} from "../shared/config-schema.js";
import { compileIdentifierPath } from "../shared/identifier-path.js";
import { MessageResult } from "../shared/metrics.js";
import { extractIdentifiers } from "./document-identifiers.js";
import { checkIdentifier } from "./identifier-rules.js";
import { JsonFramer } from "./json-framer.js";
import { LinePrefixStripper, type DocumentFramer } from "./line-prefix.js";
import type { SourceExtraction } from "./tcp-connection.js";
import { readVaultAuditEntry } from "./vault-audit.js";

/** Framing and identifier rules shared by the connections of one source. */
export interface SourceReader {
  readonly extract: (document: unknown) => SourceExtraction;
  readonly createFramer: () => DocumentFramer;
  /** Settings that explain a rejection in logs, such as the identifier path. */
  readonly extractionSettings: Readonly<Record<string, unknown>>;
}

/**
 * Returns the framing and identifier rules of a source's type.
 *
 * @throws IdentifierPathError when a TCPSocket source's identifier path is not supported.
 * @throws Error for a Webhook source, which `WebhookServer` serves over HTTP instead.
 */
export function createSourceReader(source: NotificationSource): SourceReader {
  if (source.type === SourceType.HashicorpVault) return createVaultReader(source);
  if (source.type === SourceType.Webhook) {
    throw new Error(
      `source ${source.index} is a Webhook source; serve it with WebhookServer, not a TCP listener`,
    );
  }
  return createTcpSocketReader(source);
}

function createTcpSocketReader(source: TcpSocketSource): SourceReader {
  const identifierPath = compileIdentifierPath(source.identifierPathOnPayload);
  return {
    extract: (document) =>
      extractIdentifiers(identifierPath, document, source.maxIdentifiersPerMessage),
    createFramer: () => new JsonFramer({ maxMessageBytes: source.maxMessageBytes }),
    extractionSettings: {
      identifierPath: identifierPath.source,
      maxIdentifiersPerMessage: source.maxIdentifiersPerMessage,
    },
  };
}

/**
 * Reads Vault audit entries. The `prefix` is removed from each line before JSON framing,
 * because the framer would otherwise reject the prefix text as a stretch of invalid JSON.
 */
function createVaultReader(source: HashicorpVaultSource): SourceReader {
  const settings = { operations: source.operations, includeNamespace: source.includeNamespace };
  const { prefix } = source;

  const extract = (document: unknown): SourceExtraction => {
    const result = readVaultAuditEntry(document, settings);
    if (result.kind === "ignored") return result;
    if (result.kind === "malformed") {
      return {
        kind: "rejected",
        reason: MessageResult.MissingIdentifier,
        rejectedIdentifiers: [],
        detail: `malformed Vault audit entry: ${result.detail}`,
      };
    }

    // Paths that fail the checks of every identifier, such as a path with a newline, are
    // rejected like any other source's values.
    const [identifier] = result.identifiers;
    const rejection = checkIdentifier(identifier);
    if (rejection !== undefined) {
      return {
        kind: "rejected",
        reason: MessageResult.RejectedIdentifier,
        valueType: "string",
        rejectedIdentifiers: [rejection],
      };
    }
    return {
      kind: "accepted",
      identifiers: [identifier],
      skippedValues: 0,
      rejectedIdentifiers: [],
    };
  };

  return {
    extract,
    createFramer: () => {
      const framer = new JsonFramer({ maxMessageBytes: source.maxMessageBytes });
      return prefix === undefined ? framer : new LinePrefixStripper(prefix, framer);
    },
    extractionSettings: { ...settings, prefix },
  };
}
