import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { LabelSelector, LabelSelectorRequirement } from "../../shared/config-schema.js";
import {
  describeInvalidLabelKey,
  describeInvalidLabelValue,
  matchesLabelSelector,
  matchesRequirement,
  validateLabelSelector,
} from "../../worker/label-selector.js";

const LABELS = { app: "ledger", tier: "backend", env: "prod" };

describe("matchesRequirement", () => {
  const cases: Array<{
    requirement: LabelSelectorRequirement;
    labels: Record<string, string>;
    expected: boolean;
  }> = [
    {
      requirement: { key: "tier", operator: "In", values: ["backend", "api"] },
      labels: LABELS,
      expected: true,
    },
    {
      requirement: { key: "tier", operator: "In", values: ["frontend"] },
      labels: LABELS,
      expected: false,
    },
    {
      requirement: { key: "missing", operator: "In", values: ["x"] },
      labels: LABELS,
      expected: false,
    },
    {
      requirement: { key: "tier", operator: "NotIn", values: ["frontend"] },
      labels: LABELS,
      expected: true,
    },
    {
      requirement: { key: "tier", operator: "NotIn", values: ["backend"] },
      labels: LABELS,
      expected: false,
    },
    {
      requirement: { key: "missing", operator: "NotIn", values: ["x"] },
      labels: LABELS,
      expected: true,
    },
    { requirement: { key: "tier", operator: "Exists" }, labels: LABELS, expected: true },
    { requirement: { key: "missing", operator: "Exists" }, labels: LABELS, expected: false },
    { requirement: { key: "tier", operator: "DoesNotExist" }, labels: LABELS, expected: false },
    { requirement: { key: "missing", operator: "DoesNotExist" }, labels: LABELS, expected: true },
    { requirement: { key: "empty", operator: "Exists" }, labels: { empty: "" }, expected: true },
    {
      requirement: { key: "empty", operator: "In", values: [""] },
      labels: { empty: "" },
      expected: true,
    },
  ];

  for (const { requirement, labels, expected } of cases) {
    const values = requirement.values === undefined ? "" : ` [${requirement.values.join(",")}]`;
    it(`${requirement.key} ${requirement.operator}${values} is ${expected}`, () => {
      assert.equal(matchesRequirement(requirement, labels), expected);
    });
  }

  it("ignores inherited properties", () => {
    assert.equal(matchesRequirement({ key: "constructor", operator: "Exists" }, {}), false);
    assert.equal(matchesRequirement({ key: "toString", operator: "DoesNotExist" }, {}), true);
  });
});

describe("matchesLabelSelector", () => {
  it("absent selector matches everything", () => {
    assert.equal(matchesLabelSelector(undefined, LABELS), true);
    assert.equal(matchesLabelSelector(undefined, undefined), true);
  });

  it("empty selector matches everything", () => {
    assert.equal(matchesLabelSelector({}, LABELS), true);
    assert.equal(matchesLabelSelector({}, undefined), true);
    assert.equal(matchesLabelSelector({ matchLabels: {} }, undefined), true);
    assert.equal(matchesLabelSelector({ matchLabels: {}, matchExpressions: [] }, {}), true);
  });

  it("matchLabels needs every pair", () => {
    assert.equal(matchesLabelSelector({ matchLabels: { app: "ledger" } }, LABELS), true);
    assert.equal(
      matchesLabelSelector({ matchLabels: { app: "ledger", tier: "backend" } }, LABELS),
      true,
    );
    assert.equal(
      matchesLabelSelector({ matchLabels: { app: "ledger", tier: "frontend" } }, LABELS),
      false,
    );
    assert.equal(matchesLabelSelector({ matchLabels: { owner: "x" } }, LABELS), false);
  });

  it("object without labels fails matchLabels", () => {
    assert.equal(matchesLabelSelector({ matchLabels: { app: "ledger" } }, undefined), false);
  });

  it("object without labels passes NotIn and DoesNotExist", () => {
    const selector: LabelSelector = {
      matchExpressions: [
        { key: "tier", operator: "NotIn", values: ["frontend"] },
        { key: "deprecated", operator: "DoesNotExist" },
      ],
    };
    assert.equal(matchesLabelSelector(selector, undefined), true);
  });

  it("requires all expressions", () => {
    const selector: LabelSelector = {
      matchExpressions: [
        { key: "tier", operator: "In", values: ["backend"] },
        { key: "deprecated", operator: "DoesNotExist" },
      ],
    };
    assert.equal(matchesLabelSelector(selector, LABELS), true);
    assert.equal(matchesLabelSelector(selector, { ...LABELS, deprecated: "true" }), false);
    assert.equal(matchesLabelSelector(selector, { ...LABELS, tier: "frontend" }), false);
  });

  it("requires matchLabels and expressions together", () => {
    const selector: LabelSelector = {
      matchLabels: { env: "prod" },
      matchExpressions: [{ key: "app", operator: "Exists" }],
    };
    assert.equal(matchesLabelSelector(selector, LABELS), true);
    assert.equal(matchesLabelSelector(selector, { ...LABELS, env: "dev" }), false);
    assert.equal(matchesLabelSelector(selector, { env: "prod" }), false);
  });
});

describe("validateLabelSelector", () => {
  it("accepts valid selectors", () => {
    const selector: LabelSelector = {
      matchLabels: { "app.kubernetes.io/name": "reloader", tier: "" },
      matchExpressions: [
        { key: "team", operator: "In", values: ["billing", "payments"] },
        { key: "team", operator: "NotIn", values: ["web"] },
        { key: "deprecated", operator: "DoesNotExist" },
        { key: "example.com/owner", operator: "Exists", values: [] },
      ],
    };
    assert.deepEqual(validateLabelSelector(selector, "sel"), []);
  });

  it("rejects In and NotIn without values", () => {
    const problems = validateLabelSelector(
      {
        matchExpressions: [
          { key: "team", operator: "In", values: [] },
          { key: "team", operator: "NotIn" },
        ],
      },
      "sel",
    );
    assert.equal(problems.length, 2);
    assert.equal(problems[0]?.path, "sel.matchExpressions[0].values");
    assert.match(problems[0]?.message ?? "", /operator In requires at least one value/);
    assert.equal(problems[1]?.path, "sel.matchExpressions[1].values");
    assert.match(problems[1]?.message ?? "", /operator NotIn requires at least one value/);
  });

  it("rejects Exists and DoesNotExist with values", () => {
    const problems = validateLabelSelector(
      {
        matchExpressions: [
          { key: "team", operator: "Exists", values: ["a"] },
          { key: "team", operator: "DoesNotExist", values: ["a", "b"] },
        ],
      },
      "sel",
    );
    assert.equal(problems.length, 2);
    assert.match(problems[0]?.message ?? "", /operator Exists takes no values, but 1 were given/);
    assert.match(
      problems[1]?.message ?? "",
      /operator DoesNotExist takes no values, but 2 were given/,
    );
  });

  it("rejects unknown operators", () => {
    const requirement = {
      key: "team",
      operator: "Equals",
      values: ["a"],
    } as unknown as LabelSelectorRequirement;
    const problems = validateLabelSelector({ matchExpressions: [requirement] }, "sel");
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, "sel.matchExpressions[0].operator");
    assert.match(
      problems[0]?.message ?? "",
      /invalid operator "Equals"; expected one of In, NotIn, Exists, DoesNotExist/,
    );
  });

  it("rejects invalid keys and values", () => {
    const problems = validateLabelSelector(
      {
        matchLabels: { "bad key": "ok", good: "bad value!" },
        matchExpressions: [{ key: "Example.com/x", operator: "In", values: ["-dash"] }],
      },
      "sel",
    );
    assert.deepEqual(
      problems.map((problem) => problem.path),
      [
        "sel.matchLabels",
        "sel.matchLabels.good",
        "sel.matchExpressions[0].key",
        "sel.matchExpressions[0].values[0]",
      ],
    );
  });
});

describe("label syntax", () => {
  it("accepts keys with and without prefix", () => {
    assert.equal(describeInvalidLabelKey("app"), undefined);
    assert.equal(describeInvalidLabelKey("app.kubernetes.io/name"), undefined);
    assert.equal(describeInvalidLabelKey("a".repeat(63)), undefined);
  });

  it("rejects malformed keys", () => {
    for (const key of [
      "",
      "/name",
      "prefix/",
      "UPPER.io/name",
      "a".repeat(64),
      "-start",
      "end-",
      "a/b/c",
    ]) {
      assert.notEqual(describeInvalidLabelKey(key), undefined, `key ${JSON.stringify(key)}`);
    }
  });

  it("accepts empty and plain values", () => {
    assert.equal(describeInvalidLabelValue(""), undefined);
    assert.equal(describeInvalidLabelValue("v1.2_3-x"), undefined);
  });

  it("rejects malformed values", () => {
    for (const value of ["a".repeat(64), "-x", "x-", "a b", "a/b"]) {
      assert.notEqual(
        describeInvalidLabelValue(value),
        undefined,
        `value ${JSON.stringify(value)}`,
      );
    }
  });
});
