import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import {
  formatObjectKey,
  readReferences,
  type ExternalSecretObject,
} from "../../worker/external-secret.js";
import { ReferenceIndex } from "../../worker/reference-index.js";
import { loadClusterFixture, type ClusterFixture } from "./support/cluster-fixture.js";
import { createMemoryLogger, WARN_LEVEL } from "./support/memory-logger.js";

function externalSecret(
  namespace: string,
  name: string,
  spec: unknown,
  labels?: Record<string, string>,
): ExternalSecretObject {
  return {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { namespace, name, labels },
    spec,
  };
}

function keysReferencing(index: ReferenceIndex, identifier: string): string[] {
  return index.findReferencing(identifier).map(formatObjectKey);
}

describe("readReferences", () => {
  it("reads all four reference kinds", () => {
    const references = readReferences(
      externalSecret("ns", "all", {
        data: [{ secretKey: "a", remoteRef: { key: "data/key" } }],
        dataFrom: [{ extract: { key: "extract/key" } }, { find: { name: { regexp: "^find/.*" } } }],
        target: {
          template: {
            templateFrom: [{ configMap: { name: "tmpl-cm" } }, { secret: { name: "tmpl-secret" } }],
          },
        },
      }),
    );
    assert.deepEqual([...references.exactKeys].sort(), [
      "data/key",
      "extract/key",
      "tmpl-cm",
      "tmpl-secret",
    ]);
    assert.deepEqual(references.findRegexps, ["^find/.*"]);
  });

  it("skips malformed entries", () => {
    const references = readReferences(
      externalSecret("ns", "odd", {
        data: [null, { remoteRef: { key: 7 } }, { remoteRef: null }, "text"],
        dataFrom: { extract: { key: "not-an-array" } },
        target: { template: { templateFrom: [{ configMap: { name: "" } }] } },
      }),
    );
    assert.equal(references.exactKeys.size, 0);
    assert.equal(references.findRegexps.length, 0);
  });

  it("tolerates a missing spec", () => {
    const references = readReferences(externalSecret("ns", "empty", undefined));
    assert.equal(references.exactKeys.size, 0);
  });
});

describe("ReferenceIndex on cluster.yaml", () => {
  let cluster: ClusterFixture;
  let index: ReferenceIndex;

  before(async () => {
    cluster = await loadClusterFixture();
    index = new ReferenceIndex(createMemoryLogger().logger);
    for (const object of cluster.externalSecrets) {
      index.upsert(object);
    }
  });

  it("indexes every ExternalSecret", () => {
    assert.equal(index.size, 6);
  });

  it("finds remoteRef keys and find regexps", () => {
    assert.deepEqual(keysReferencing(index, "app/db-password"), [
      "payments/db-credentials",
      "sandbox/db-credentials",
      "web/all-app-secrets",
    ]);
  });

  it("exact keys do not match by prefix", () => {
    assert.ok(!keysReferencing(index, "app/db-password").includes("payments/unrelated"));
    assert.deepEqual(keysReferencing(index, "app/db-password-old"), [
      "payments/unrelated",
      "web/all-app-secrets",
    ]);
  });

  it("finds dataFrom extract keys", () => {
    assert.deepEqual(keysReferencing(index, "payments/stripe-key"), ["payments/stripe"]);
  });

  it("finds templateFrom configMap and secret names", () => {
    assert.deepEqual(keysReferencing(index, "site-template"), ["web/rendered-config"]);
    assert.deepEqual(keysReferencing(index, "shared-tls"), ["web/rendered-config"]);
    assert.deepEqual(keysReferencing(index, "web/api-token"), ["web/rendered-config"]);
  });

  it("finds nothing for unknown identifiers", () => {
    assert.deepEqual(keysReferencing(index, "nothing/here"), []);
  });

  it("returns labels for the filters", () => {
    const [first] = index.findReferencing("payments/stripe-key");
    assert.deepEqual(first?.labels, { app: "checkout", tier: "frontend" });
  });
});

describe("ReferenceIndex updates", () => {
  it("update replaces old references", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    index.upsert(externalSecret("ns", "es", { data: [{ remoteRef: { key: "old/key" } }] }));
    index.upsert(externalSecret("ns", "es", { data: [{ remoteRef: { key: "new/key" } }] }));
    assert.deepEqual(keysReferencing(index, "old/key"), []);
    assert.deepEqual(keysReferencing(index, "new/key"), ["ns/es"]);
    assert.equal(index.size, 1);
  });

  it("delete removes exact and regexp references", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    const object = externalSecret("ns", "es", {
      data: [{ remoteRef: { key: "a/key" } }],
      dataFrom: [{ find: { name: { regexp: "^b/" } } }],
    });
    index.upsert(object);
    index.remove(object);
    assert.deepEqual(keysReferencing(index, "a/key"), []);
    assert.deepEqual(keysReferencing(index, "b/key"), []);
    assert.equal(index.size, 0);
  });

  it("delete of an unknown object is a no-op", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    index.remove(externalSecret("ns", "missing", {}));
    assert.equal(index.size, 0);
  });

  it("ignores objects without namespace or name", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    index.upsert({
      metadata: { name: "no-namespace" },
      spec: { data: [{ remoteRef: { key: "k" } }] },
    } as ExternalSecretObject);
    assert.equal(index.size, 0);
  });

  it("same object in two namespaces is two entries", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    index.upsert(externalSecret("a", "es", { data: [{ remoteRef: { key: "k" } }] }));
    index.upsert(externalSecret("b", "es", { data: [{ remoteRef: { key: "k" } }] }));
    index.remove(externalSecret("a", "es", {}));
    assert.deepEqual(keysReferencing(index, "k"), ["b/es"]);
  });

  it("object matched twice is returned once", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    index.upsert(
      externalSecret("ns", "es", {
        data: [{ remoteRef: { key: "app/x" } }],
        dataFrom: [{ find: { name: { regexp: "^app/" } } }, { find: { name: { regexp: "x$" } } }],
      }),
    );
    assert.deepEqual(keysReferencing(index, "app/x"), ["ns/es"]);
  });
});

describe("ReferenceIndex find regexps", () => {
  it("searches unanchored like Go MatchString", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    index.upsert(externalSecret("ns", "es", { dataFrom: [{ find: { name: { regexp: "db" } } }] }));
    assert.deepEqual(keysReferencing(index, "app/db-password"), ["ns/es"]);
    assert.deepEqual(keysReferencing(index, "app/api-key"), []);
  });

  it("uses RE2 syntax", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    // (?P<name>...) is Go/RE2 named-group syntax that JavaScript RegExp rejects.
    index.upsert(
      externalSecret("ns", "es", {
        dataFrom: [{ find: { name: { regexp: "^(?P<scope>app)/\\pL+$" } } }],
      }),
    );
    assert.deepEqual(keysReferencing(index, "app/token"), ["ns/es"]);
    assert.deepEqual(keysReferencing(index, "app/token2"), []);
  });

  it("rejects backreferences RE2 lacks", () => {
    const memory = createMemoryLogger();
    const index = new ReferenceIndex(memory.logger);
    index.upsert(
      externalSecret("ns", "es", { dataFrom: [{ find: { name: { regexp: "(a)\\1" } } }] }),
    );
    assert.deepEqual(keysReferencing(index, "aa"), []);
    assert.equal(memory.entries.filter((entry) => entry.level === WARN_LEVEL).length, 1);
  });

  it("invalid regexp warns once and never matches", () => {
    const memory = createMemoryLogger();
    const index = new ReferenceIndex(memory.logger);
    const object = externalSecret("ns", "broken", {
      dataFrom: [{ find: { name: { regexp: "app/(" } } }, { find: { name: { regexp: "^ok/" } } }],
    });

    index.upsert(object);
    index.upsert({ ...object, metadata: { ...object.metadata, resourceVersion: "2" } });

    assert.deepEqual(keysReferencing(index, "app/("), []);
    assert.deepEqual(keysReferencing(index, "ok/x"), ["ns/broken"]);

    const warnings = memory.entries.filter((entry) => entry.level === WARN_LEVEL);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.namespace, "ns");
    assert.equal(warnings[0]?.name, "broken");
    assert.equal(warnings[0]?.regexp, "app/(");
  });

  it("compiles unchanged patterns once", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    const object = externalSecret("ns", "es", {
      dataFrom: [{ find: { name: { regexp: "^app/" } } }],
    });
    index.upsert(object);
    const [before] = index.findReferencing("app/x");
    index.upsert({ ...object, metadata: { ...object.metadata, labels: { changed: "yes" } } });
    const [after] = index.findReferencing("app/x");

    assert.ok(before !== undefined);
    assert.ok(after !== undefined);
    assert.equal(after.findPatterns[0], before.findPatterns[0]);
    assert.deepEqual(after.labels, { changed: "yes" });
  });

  it("finds one object among thousands", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    for (let i = 0; i < 5000; i += 1) {
      index.upsert(
        externalSecret(`ns-${i % 50}`, `es-${i}`, { data: [{ remoteRef: { key: `key/${i}` } }] }),
      );
    }
    assert.deepEqual(keysReferencing(index, "key/4321"), ["ns-21/es-4321"]);
    assert.equal(index.size, 5000);
  });
});

describe("ReferenceIndex ordering", () => {
  it("sorts by namespace, then name", () => {
    const index = new ReferenceIndex(createMemoryLogger().logger);
    for (const [namespace, name] of [
      ["a-b", "x"],
      ["a", "z"],
      ["a", "y"],
    ] as const) {
      index.upsert(externalSecret(namespace, name, { data: [{ remoteRef: { key: "k" } }] }));
    }
    assert.deepEqual(keysReferencing(index, "k"), ["a/y", "a/z", "a-b/x"]);
  });
});
