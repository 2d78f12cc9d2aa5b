/**
 * Checks on an identifier before it becomes a job. Each failed check has its own reason, so
 * operators can tell a misconfigured sender from a hostile one in the metrics.
 */

/**
 * Maximum identifier length in UTF-8 bytes. Secret paths in Vault and the cloud secret
 * managers are far shorter.
 */
export const MAX_IDENTIFIER_BYTES = 1024;

/** Prefix of values a Vault audit device has HMAC'd: a hash, never a secret's name. */
const VAULT_HMAC_PREFIX = "hmac-sha256:";

/** Reason an identifier was rejected; the values are the `reason` label of the metric. */
export const IdentifierRejection = {
  Empty: "empty",
  TooLong: "too_long",
  ControlCharacter: "control_character",
  InvalidCharacter: "invalid_character",
  VaultHmac: "vault_hmac",
} as const;
export type IdentifierRejection = (typeof IdentifierRejection)[keyof typeof IdentifierRejection];

// C0 controls, DEL and C1 controls: none belongs in a secret path, and they can forge log lines.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

// Characters that make an identifier look like another one: U+FFFD, which replaces bytes
// that are not UTF-8, unpaired surrogates, invisible format characters such as bidi
// overrides and zero-width spaces, and the line and paragraph separators.
const INVALID_CHARACTER = /[\p{Cf}\p{Cs}\p{Zl}\p{Zp}\uFFFD]/u;

/** Returns why `identifier` must not become a job, or undefined when it may. */
export function checkIdentifier(identifier: string): IdentifierRejection | undefined {
  if (identifier.length === 0) return IdentifierRejection.Empty;
  if (Buffer.byteLength(identifier, "utf8") > MAX_IDENTIFIER_BYTES) {
    return IdentifierRejection.TooLong;
  }
  if (CONTROL_CHARACTER.test(identifier)) return IdentifierRejection.ControlCharacter;
  if (INVALID_CHARACTER.test(identifier)) return IdentifierRejection.InvalidCharacter;
  if (identifier.startsWith(VAULT_HMAC_PREFIX)) return IdentifierRejection.VaultHmac;
  return undefined;
}
