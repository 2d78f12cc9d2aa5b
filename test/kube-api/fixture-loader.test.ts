import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { startKubeApiEmulator } from "./emulator.js";
import { FixtureError, loadFixtureFile, parseFixture } from "./fixture-loader.js";
import { ObjectStore } from "./object-store.js";
import { ResourceRegistry } from "./resource-types.js";
import { clusterFixture } from "./suite-helpers.js";

let directory: string;

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "kube-api-fixtures-"));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function fixtureFile(name: string, text: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, text);
  return path;
}

function newStore(): ObjectStore {
  return new ObjectStore(new ResourceRegistry());
}

const namespaceDocument = "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n";

describe("loadFixtureFile", () => {
  it("loads 3 namespaces and 6 ExternalSecrets from cluster.yaml", async () => {
    const store = newStore();
    const loaded = await loadFixtureFile(store, clusterFixture);
    assert.equal(loaded.length, 9);
    assert.deepEqual(
      store.list("namespaces").map((object) => object.metadata.name),
      ["payments", "sandbox", "web"],
    );
    assert.equal(store.list("externalsecrets").length, 6);
    assert.equal(store.resourceVersion, "9");
  });

  it("keeps labels and spec as written", async () => {
    const store = newStore();
    await loadFixtureFile(store, clusterFixture);
    const stripe = store.mustGet("externalsecrets", "payments", "stripe");
    assert.deepEqual(stripe.metadata.labels, { app: "checkout", tier: "frontend" });
    assert.deepEqual(stripe["spec"], {
      refreshInterval: "24h",
      secretStoreRef: { kind: "ClusterSecretStore", name: "vault" },
      target: { name: "stripe" },
      dataFrom: [{ extract: { key: "payments/stripe-key" } }],
    });
  });

  it("creates namespaces before the objects in them", async () => {
    const path = await fixtureFile(
      "reversed.yaml",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: apps}\ndata: {a: b}\n---\n" +
        namespaceDocument,
    );
    const store = newStore();
    await loadFixtureFile(store, path);
    assert.equal(store.list("configmaps", "apps").length, 1);
  });

  it("keeps status and expands List documents", async () => {
    const text = `${namespaceDocument}---
apiVersion: v1
kind: List
items:
  - apiVersion: external-secrets.io/v1
    kind: ExternalSecret
    metadata: {name: synced, namespace: apps}
    spec: {}
    status: {conditions: [{type: Ready, status: "True"}]}
`;
    const store = newStore();
    await loadFixtureFile(store, await fixtureFile("list.yaml", text));
    assert.deepEqual(store.mustGet("externalsecrets", "apps", "synced")["status"], {
      conditions: [{ type: "Ready", status: "True" }],
    });
  });

  it("names the kind, apiVersion and file of an unknown kind", async () => {
    const path = await fixtureFile(
      "unknown.yaml",
      `${namespaceDocument}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: apps}\n`,
    );
    const store = newStore();
    await assert.rejects(loadFixtureFile(store, path), (error: unknown) => {
      assert.ok(error instanceof FixtureError);
      assert.match(error.message, /unknown\.yaml: document 2 \(line 5\)/);
      assert.match(error.message, /kind "Deployment" with apiVersion "apps\/v1" is not served/);
      assert.match(error.message, /ExternalSecret \(external-secrets\.io\/v1\)/);
      return true;
    });
    assert.equal(
      store.list("namespaces").length,
      0,
      "nothing may be stored from a file with an unknown kind",
    );
  });

  it("reports invalid YAML with file and line", async () => {
    const path = await fixtureFile(
      "broken.yaml",
      `${namespaceDocument}---\nkind: Namespace\nmetadata: {name: [unclosed\n`,
    );
    await assert.rejects(
      loadFixtureFile(newStore(), path),
      /broken\.yaml: document 2 \(line 5\): invalid YAML/,
    );
  });

  it("requires a namespace on namespaced objects", async () => {
    assert.throws(
      () =>
        parseFixture(
          new ResourceRegistry(),
          "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
          "inline.yaml",
        ),
      /inline\.yaml: document 1 \(line 1\): Secret is namespaced, so metadata\.namespace must be set/,
    );
  });

  it("rejects a document that is not a mapping", () => {
    assert.throws(
      () => parseFixture(new ResourceRegistry(), "- a\n- b\n", "list.yaml"),
      /must be a mapping/,
    );
  });

  it("reports a duplicate object with its origin", async () => {
    const path = await fixtureFile(
      "duplicate.yaml",
      `${namespaceDocument}---\n${namespaceDocument}`,
    );
    await assert.rejects(
      loadFixtureFile(newStore(), path),
      /duplicate\.yaml: document 2 \(line 5\): the emulator rejected the object \(409 AlreadyExists\)/,
    );
  });

  it("reports a missing file", async () => {
    await assert.rejects(
      loadFixtureFile(newStore(), join(directory, "absent.yaml")),
      /cannot read fixture file .*absent\.yaml/,
    );
  });

  it("makes startKubeApiEmulator reject", async () => {
    const path = await fixtureFile(
      "bad-for-server.yaml",
      "apiVersion: v9\nkind: Thing\nmetadata: {name: x}\n",
    );
    await assert.rejects(startKubeApiEmulator({ load: [path] }), FixtureError);
  });
});
