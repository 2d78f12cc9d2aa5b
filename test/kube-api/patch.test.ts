import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  applyJsonPatch,
  JsonPatchApplyError,
  JsonPatchFormatError,
  parseJsonPatch,
} from "./json-patch.js";
import type { JsonValue } from "./json-value.js";
import { applyMergePatch, stripStrategicDirectives } from "./merge-patch.js";

describe("applyMergePatch", () => {
  // The test cases of RFC 7386, appendix A.
  const rfcCases: Array<[target: JsonValue, patch: JsonValue, expected: JsonValue]> = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [
      ["a", "b"],
      ["c", "d"],
      ["c", "d"],
    ],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  rfcCases.forEach(([target, patch, expected], index) => {
    it(`applies RFC 7386 example ${index + 1}`, () => {
      assert.deepEqual(applyMergePatch(target, patch), expected);
    });
  });

  it("leaves the target unchanged", () => {
    const target = { metadata: { annotations: { a: "1" } } };
    applyMergePatch(target, { metadata: { annotations: { a: null } } });
    assert.deepEqual(target, { metadata: { annotations: { a: "1" } } });
  });
});

describe("stripStrategicDirectives", () => {
  it("removes $-keys at every level", () => {
    const patch = {
      $patch: "merge",
      metadata: { labels: { a: "b" }, "$setElementOrder/finalizers": [{ x: 1 }] },
    };
    assert.deepEqual(stripStrategicDirectives(patch), { metadata: { labels: { a: "b" } } });
  });
});

describe("applyJsonPatch", () => {
  const target: JsonValue = {
    metadata: { name: "x", annotations: { "a/b": "1" } },
    list: [1, 2, 3],
  };

  const cases: Array<[name: string, operations: unknown, expected: JsonValue]> = [
    [
      "adds a key",
      [{ op: "add", path: "/metadata/labels", value: { t: "v" } }],
      { metadata: { name: "x", annotations: { "a/b": "1" }, labels: { t: "v" } }, list: [1, 2, 3] },
    ],
    [
      "adds to the end of an array",
      [{ op: "add", path: "/list/-", value: 4 }],
      { metadata: { name: "x", annotations: { "a/b": "1" } }, list: [1, 2, 3, 4] },
    ],
    [
      "inserts into an array",
      [{ op: "add", path: "/list/0", value: 0 }],
      { metadata: { name: "x", annotations: { "a/b": "1" } }, list: [0, 1, 2, 3] },
    ],
    [
      "removes an escaped key",
      [{ op: "remove", path: "/metadata/annotations/a~1b" }],
      { metadata: { name: "x", annotations: {} }, list: [1, 2, 3] },
    ],
    [
      "replaces an array item",
      [{ op: "replace", path: "/list/1", value: 9 }],
      { metadata: { name: "x", annotations: { "a/b": "1" } }, list: [1, 9, 3] },
    ],
    [
      "moves a value",
      [{ op: "move", from: "/metadata/name", path: "/name" }],
      { metadata: { annotations: { "a/b": "1" } }, list: [1, 2, 3], name: "x" },
    ],
    [
      "copies a value",
      [{ op: "copy", from: "/list/2", path: "/copy" }],
      { metadata: { name: "x", annotations: { "a/b": "1" } }, list: [1, 2, 3], copy: 3 },
    ],
    ["passes a test", [{ op: "test", path: "/metadata/name", value: "x" }], target],
  ];

  for (const [name, operations, expected] of cases) {
    it(name, () => {
      assert.deepEqual(applyJsonPatch(target, parseJsonPatch(operations)), expected);
    });
  }

  const failures: Array<[name: string, operations: unknown]> = [
    ["fails a test", [{ op: "test", path: "/metadata/name", value: "y" }]],
    ["replaces a missing key", [{ op: "replace", path: "/spec/x", value: 1 }]],
    ["removes a missing key", [{ op: "remove", path: "/metadata/labels" }]],
    ["adds past the end of an array", [{ op: "add", path: "/list/5", value: 1 }]],
    ["moves into its own child", [{ op: "move", from: "/metadata", path: "/metadata/inner" }]],
  ];

  for (const [name, operations] of failures) {
    it(`${name} with JsonPatchApplyError`, () => {
      assert.throws(() => applyJsonPatch(target, parseJsonPatch(operations)), JsonPatchApplyError);
    });
  }

  it("applies nothing when a later operation fails", () => {
    const copy = structuredClone(target);
    const operations = parseJsonPatch([
      { op: "add", path: "/metadata/labels", value: {} },
      { op: "test", path: "/metadata/name", value: "nope" },
    ]);
    assert.throws(() => applyJsonPatch(copy, operations));
    assert.deepEqual(copy, target);
  });

  const malformed: unknown[] = [
    { op: "add" },
    [{ op: "jump", path: "/a" }],
    [{ op: "add", path: "/a" }],
    [{ op: "move", path: "/a" }],
    [{ op: "add", value: 1 }],
  ];
  malformed.forEach((document, index) => {
    it(`rejects malformed document ${index + 1} with JsonPatchFormatError`, () => {
      assert.throws(() => parseJsonPatch(document), JsonPatchFormatError);
    });
  });
});
