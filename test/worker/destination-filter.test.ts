import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ExternalSecretDestination, ReloaderConfig } from "../../shared/config-schema.js";
import { ErrorCode } from "../../shared/errors.js";
import {
  assertValidDestinations,
  DestinationFilterError,
  matchesAnyDestination,
  matchesDestination,
  validateDestinations,
  type DestinationCandidate,
  type NamespaceLabelsLookup,
} from "../../worker/destination-filter.js";

const NAMESPACES: Record<string, Record<string, string>> = {
  payments: { team: "payments", env: "prod", reload: "enabled" },
  web: { team: "web", env: "prod" },
  sandbox: { env: "dev" },
  bare: {},
};

const lookup: NamespaceLabelsLookup = (namespace) => NAMESPACES[namespace];

const dbCredentials: DestinationCandidate = {
  namespace: "payments",
  name: "db-credentials",
  labels: { app: "ledger", tier: "backend" },
};

function candidate(overrides: Partial<DestinationCandidate>): DestinationCandidate {
  return { ...dbCredentials, ...overrides };
}

function config(destinations: ExternalSecretDestination[]): ReloaderConfig {
  return { name: "sample", sources: [], destinations };
}

describe("matchesDestination", () => {
  it("empty destination matches everything", () => {
    assert.equal(matchesDestination({}, dbCredentials, lookup), true);
    assert.equal(
      matchesDestination({}, candidate({ namespace: "unknown", labels: undefined }), lookup),
      true,
    );
  });

  it("names is any-of", () => {
    const destination = { names: ["stripe", "db-credentials"] };
    assert.equal(matchesDestination(destination, dbCredentials, lookup), true);
    assert.equal(matchesDestination(destination, candidate({ name: "unrelated" }), lookup), false);
  });

  it("empty names list is no filter", () => {
    assert.equal(matchesDestination({ names: [] }, dbCredentials, lookup), true);
  });

  it("labelSelectors filter object labels", () => {
    const destination = { labelSelectors: { matchLabels: { tier: "backend" } } };
    assert.equal(matchesDestination(destination, dbCredentials, lookup), true);
    assert.equal(
      matchesDestination(destination, candidate({ labels: { tier: "frontend" } }), lookup),
      false,
    );
    assert.equal(matchesDestination(destination, candidate({ labels: undefined }), lookup), false);
  });

  it("namespaceSelectors is any-of", () => {
    const destination: ExternalSecretDestination = {
      namespaceSelectors: [
        { matchLabels: { reload: "enabled" } },
        { matchExpressions: [{ key: "team", operator: "In", values: ["web"] }] },
      ],
    };
    assert.equal(matchesDestination(destination, dbCredentials, lookup), true);
    assert.equal(matchesDestination(destination, candidate({ namespace: "web" }), lookup), true);
    assert.equal(
      matchesDestination(destination, candidate({ namespace: "sandbox" }), lookup),
      false,
    );
  });

  it("empty namespaceSelectors is no filter", () => {
    assert.equal(
      matchesDestination({ namespaceSelectors: [] }, candidate({ namespace: "unknown" }), lookup),
      true,
    );
  });

  it("uncached namespace matches no namespace selector", () => {
    const destination: ExternalSecretDestination = { namespaceSelectors: [{}] };
    assert.equal(
      matchesDestination(destination, candidate({ namespace: "unknown" }), lookup),
      false,
    );
    assert.equal(matchesDestination(destination, candidate({ namespace: "bare" }), lookup), true);
  });

  it("namespace lookup skipped without namespace selectors", () => {
    let lookups = 0;
    const counting: NamespaceLabelsLookup = (namespace) => {
      lookups += 1;
      return lookup(namespace);
    };
    matchesDestination({ names: ["db-credentials"] }, dbCredentials, counting);
    assert.equal(lookups, 0);
  });

  it("requires every field present", () => {
    const destination: ExternalSecretDestination = {
      names: ["db-credentials"],
      labelSelectors: { matchLabels: { tier: "backend" } },
      namespaceSelectors: [{ matchLabels: { env: "prod" } }],
    };
    assert.equal(matchesDestination(destination, dbCredentials, lookup), true);
    assert.equal(
      matchesDestination(destination, candidate({ namespace: "sandbox" }), lookup),
      false,
    );
    assert.equal(matchesDestination(destination, candidate({ name: "other" }), lookup), false);
    assert.equal(matchesDestination(destination, candidate({ labels: {} }), lookup), false);
  });
});

describe("matchesAnyDestination", () => {
  it("is any-of across destinations", () => {
    const destinations = [
      { names: ["stripe"] },
      { namespaceSelectors: [{ matchLabels: { env: "dev" } }] },
    ];
    assert.equal(matchesAnyDestination(destinations, candidate({ name: "stripe" }), lookup), true);
    assert.equal(
      matchesAnyDestination(destinations, candidate({ namespace: "sandbox" }), lookup),
      true,
    );
    assert.equal(matchesAnyDestination(destinations, dbCredentials, lookup), false);
  });

  it("no destinations match nothing", () => {
    assert.equal(matchesAnyDestination([], dbCredentials, lookup), false);
  });
});

describe("validateDestinations", () => {
  it("locates problems by destination and selector", () => {
    const problems = validateDestinations(
      config([
        { labelSelectors: { matchLabels: {} } },
        {
          labelSelectors: { matchExpressions: [{ key: "tier", operator: "In", values: [] }] },
          namespaceSelectors: [
            {},
            { matchExpressions: [{ key: "team", operator: "Exists", values: ["x"] }] },
          ],
        },
      ]),
    );
    assert.deepEqual(
      problems.map((problem) => problem.path),
      [
        "destinations[1].labelSelectors.matchExpressions[0].values",
        "destinations[1].namespaceSelectors[1].matchExpressions[0].values",
      ],
    );
  });

  it("assertValidDestinations names the Config", () => {
    const invalid = config([
      { labelSelectors: { matchExpressions: [{ key: "tier", operator: "NotIn" }] } },
    ]);
    assert.throws(
      () => assertValidDestinations([config([{}]), invalid]),
      (error: unknown) => {
        assert.ok(error instanceof DestinationFilterError);
        assert.equal(error.code, ErrorCode.ConfigInvalid);
        assert.equal(error.configName, "sample");
        assert.equal(error.problems.length, 1);
        assert.match(error.message, /invalid destination filters in Config "sample"/);
        assert.match(
          error.message,
          /destinations\[0\]\.labelSelectors\.matchExpressions\[0\]\.values: operator NotIn requires/,
        );
        return true;
      },
    );
  });

  it("assertValidDestinations accepts valid Configs", () => {
    assert.doesNotThrow(() => assertValidDestinations([config([{}, { names: ["a"] }])]));
  });
});
