import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  describeJsonType,
  extractIdentifiers,
  type IdentifierExtraction,
} from "../../gateway/document-identifiers.js";
import { compileIdentifierPath } from "../../shared/identifier-path.js";

describe("extractIdentifiers", () => {
  const cases: [name: string, path: string, document: unknown, expected: IdentifierExtraction][] = [
    [
      "string identifier",
      "0.data.ObjectName",
      { "0": { data: { ObjectName: "app/db" } } },
      { kind: "accepted", identifiers: ["app/db"], skippedValues: 0, rejectedIdentifiers: [] },
    ],
    [
      "missing field",
      "0.data.ObjectName",
      { "0": { data: {} } },
      { kind: "rejected", reason: "missing_identifier", rejectedIdentifiers: [] },
    ],
    [
      "number",
      "0.data.ObjectName",
      { "0": { data: { ObjectName: 42 } } },
      { kind: "rejected", reason: "not_string", valueType: "number", rejectedIdentifiers: [] },
    ],
    [
      "empty string",
      "name",
      { name: "" },
      {
        kind: "rejected",
        reason: "rejected_identifier",
        valueType: "empty string",
        rejectedIdentifiers: ["empty"],
      },
    ],
    [
      "null",
      "name",
      { name: null },
      { kind: "rejected", reason: "not_string", valueType: "null", rejectedIdentifiers: [] },
    ],
    [
      "array value",
      "name",
      { name: ["a"] },
      { kind: "rejected", reason: "not_string", valueType: "array", rejectedIdentifiers: [] },
    ],
    [
      "several values, duplicates and non-strings",
      "list.#.id",
      { list: [{ id: "a" }, { id: 1 }, { id: "b" }, { id: "a" }, { id: "" }] },
      {
        kind: "accepted",
        identifiers: ["a", "b"],
        skippedValues: 1,
        rejectedIdentifiers: ["empty"],
      },
    ],
    [
      "several values, none a string",
      "list.#.id",
      { list: [{ id: true }, { id: 2 }] },
      { kind: "rejected", reason: "not_string", valueType: "boolean", rejectedIdentifiers: [] },
    ],
    [
      "several values, none selected",
      "list.#.id",
      { list: [{ other: 1 }] },
      { kind: "rejected", reason: "missing_identifier", rejectedIdentifiers: [] },
    ],
    [
      "Vault HMAC and control characters",
      "list.#.id",
      { list: [{ id: "hmac-sha256:abc" }, { id: "a\nb" }] },
      {
        kind: "rejected",
        reason: "rejected_identifier",
        valueType: "string",
        rejectedIdentifiers: ["vault_hmac", "control_character"],
      },
    ],
  ];
  for (const [name, path, document, expected] of cases) {
    test(name, () => {
      assert.deepEqual(extractIdentifiers(compileIdentifierPath(path), document, 1000), expected);
    });
  }
});

describe("describeJsonType", () => {
  const cases: [value: unknown, expected: string][] = [
    [{}, "object"],
    [[], "array"],
    [null, "null"],
    ["", "empty string"],
    ["x", "string"],
    [1.5, "number"],
    [false, "boolean"],
  ];
  for (const [value, expected] of cases) {
    test(`type of ${JSON.stringify(value)}`, () => {
      assert.equal(describeJsonType(value), expected);
    });
  }
});
