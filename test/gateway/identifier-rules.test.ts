import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkIdentifier,
  IdentifierRejection,
  MAX_IDENTIFIER_BYTES,
} from "../../gateway/identifier-rules.js";

describe("identifier rules", () => {
  const cases: Array<[string, string, IdentifierRejection | undefined]> = [
    ["plain path", "app/db-password", undefined],
    ["unicode path", "équipe/clé", undefined],
    ["longest allowed", "a".repeat(MAX_IDENTIFIER_BYTES), undefined],
    ["empty", "", IdentifierRejection.Empty],
    ["one byte too long", "a".repeat(MAX_IDENTIFIER_BYTES + 1), IdentifierRejection.TooLong],
    ["too long in bytes", "é".repeat(MAX_IDENTIFIER_BYTES / 2 + 1), IdentifierRejection.TooLong],
    ["newline", "app/db\npassword", IdentifierRejection.ControlCharacter],
    ["NUL", "app/\u0000", IdentifierRejection.ControlCharacter],
    ["DEL", "app/\u007f", IdentifierRejection.ControlCharacter],
    ["C1 control", "app/\u0085", IdentifierRejection.ControlCharacter],
    ["emoji path", "team/🔑", undefined],
    ["replacement character", "app/\uFFFD", IdentifierRejection.InvalidCharacter],
    ["unpaired surrogate", "app/\uD800", IdentifierRejection.InvalidCharacter],
    ["bidi override", "app/\u202Eyek", IdentifierRejection.InvalidCharacter],
    ["zero-width space", "app/\u200Bkey", IdentifierRejection.InvalidCharacter],
    ["line separator", "app/\u2028key", IdentifierRejection.InvalidCharacter],
    ["Vault HMAC", "hmac-sha256:0a1b2c", IdentifierRejection.VaultHmac],
  ];

  for (const [name, identifier, expected] of cases) {
    it(`${name}`, () => {
      assert.equal(checkIdentifier(identifier), expected);
    });
  }
});
