import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseFieldSelector } from "./field-selector.js";
import { matchesLabels, parseLabelSelector, SelectorSyntaxError } from "./label-selector.js";

const labels = { app: "ledger", tier: "backend", replicas: "3" };

describe("parseLabelSelector", () => {
  const cases: Array<[selector: string, expected: boolean]> = [
    ["", true],
    ["app=ledger", true],
    ["app==ledger", true],
    ["app=site", false],
    ["app!=site", true],
    ["app!=ledger", false],
    ["missing!=x", true],
    ["tier in (backend,frontend)", true],
    ["tier in (frontend)", false],
    ["missing in (x)", false],
    ["tier notin (frontend)", true],
    ["tier notin (backend, frontend)", false],
    ["missing notin (x)", true],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["app=ledger,tier=backend", true],
    ["app=ledger,tier=frontend", false],
    [" app = ledger , !missing ", true],
    ["replicas>2", true],
    ["replicas<3", false],
    ["app=", false],
  ];

  for (const [selector, expected] of cases) {
    it(`matches "${selector}" as ${expected}`, () => {
      assert.equal(matchesLabels(parseLabelSelector(selector), labels), expected);
    });
  }

  it("matches an empty value with key=", () => {
    assert.equal(matchesLabels(parseLabelSelector("empty="), { empty: "" }), true);
  });

  it("treats missing labels as an empty set", () => {
    assert.equal(matchesLabels(parseLabelSelector("!app"), undefined), true);
    assert.equal(matchesLabels(parseLabelSelector("app"), undefined), false);
  });

  const invalid = [
    "app in ()",
    "app in (a",
    "app in a",
    "=x",
    "app=a=b",
    "app=ledger,",
    "!",
    "app>x",
    "bad key=1",
    "a/b/c=1",
    "app=-x-",
  ];
  for (const selector of invalid) {
    it(`rejects "${selector}"`, () => {
      assert.throws(() => parseLabelSelector(selector), SelectorSyntaxError);
    });
  }

  it("names the selector in the error", () => {
    assert.throws(() => parseLabelSelector("app in a"), /"app in a"/);
  });
});

describe("parseFieldSelector", () => {
  const fields = ["metadata.name", "metadata.namespace"];

  it("parses the three operators", () => {
    assert.deepEqual(
      parseFieldSelector("metadata.name=a,metadata.namespace==b,metadata.name!=c", fields),
      [
        { field: "metadata.name", operator: "equals", value: "a" },
        { field: "metadata.namespace", operator: "equals", value: "b" },
        { field: "metadata.name", operator: "notEquals", value: "c" },
      ],
    );
  });

  it("keeps an escaped comma in the value", () => {
    assert.deepEqual(parseFieldSelector("metadata.name=a\\,b", fields), [
      { field: "metadata.name", operator: "equals", value: "a,b" },
    ]);
  });

  it("rejects an unsupported field", () => {
    assert.throws(
      () => parseFieldSelector("spec.target=x", fields),
      /field label not supported: spec\.target/,
    );
  });

  it("rejects a term without an operator", () => {
    assert.throws(() => parseFieldSelector("metadata.name", fields), SelectorSyntaxError);
  });
});
