import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { emulatedKubernetesVersion } from "./discovery.js";
import type { KubeApiEmulator } from "./emulator.js";
import { externalSecretsPath, requestJson, startFixtureEmulator } from "./suite-helpers.js";

let emulator: KubeApiEmulator;

before(async () => {
  emulator = await startFixtureEmulator();
});

after(async () => {
  await emulator.close();
});

function get(path: string): ReturnType<typeof requestJson> {
  return requestJson(emulator.url, "GET", path);
}

function names(list: {
  items: Array<{ metadata: { namespace?: string; name: string } }>;
}): string[] {
  return list.items.map((item) => `${item.metadata.namespace ?? ""}/${item.metadata.name}`);
}

describe("discovery", () => {
  it("lists core versions at /api", async () => {
    const response = await get("/api");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.body.kind, "APIVersions");
    assert.deepEqual(response.body.versions, ["v1"]);
  });

  it("lists external-secrets.io at /apis", async () => {
    const response = await get("/apis");
    assert.equal(response.body.kind, "APIGroupList");
    const group = response.body.groups.find(
      (entry: { name: string }) => entry.name === "external-secrets.io",
    );
    assert.deepEqual(group?.preferredVersion, {
      groupVersion: "external-secrets.io/v1",
      version: "v1",
    });
  });

  it("describes one group at /apis/{group}", async () => {
    const response = await get("/apis/external-secrets.io");
    assert.equal(response.body.kind, "APIGroup");
    assert.equal(response.body.name, "external-secrets.io");
  });

  it("lists externalsecrets with short name and status", async () => {
    const response = await get("/apis/external-secrets.io/v1");
    assert.equal(response.body.kind, "APIResourceList");
    assert.equal(response.body.groupVersion, "external-secrets.io/v1");
    const main = response.body.resources.find(
      (entry: { name: string }) => entry.name === "externalsecrets",
    );
    assert.equal(main.singularName, "externalsecret");
    assert.equal(main.namespaced, true);
    assert.equal(main.kind, "ExternalSecret");
    assert.deepEqual(main.shortNames, ["es"]);
    assert.ok(main.verbs.includes("watch"));
    assert.ok(main.verbs.includes("patch"));
    const status = response.body.resources.find(
      (entry: { name: string }) => entry.name === "externalsecrets/status",
    );
    assert.deepEqual(status.verbs, ["get", "patch", "update"]);
  });

  it("lists core resources at /api/v1", async () => {
    const response = await get("/api/v1");
    const byName = new Map(
      response.body.resources.map((entry: { name: string }) => [entry.name, entry]),
    );
    assert.equal((byName.get("namespaces") as { namespaced: boolean }).namespaced, false);
    assert.equal((byName.get("configmaps") as { namespaced: boolean }).namespaced, true);
    assert.ok(byName.has("secrets"));
  });

  it("reports a version at /version", async () => {
    const response = await get("/version");
    assert.equal(response.body.major, "1");
    assert.match(response.body.gitVersion, /^v1\.\d+\.\d+/);
  });

  it("returns 404 Status for unknown groups", async () => {
    for (const path of [
      "/apis/unknown.example.com/v1",
      "/apis/external-secrets.io/v2/externalsecrets",
    ]) {
      const response = await get(path);
      assert.equal(response.status, 404, path);
      assert.equal(response.body.kind, "Status", path);
      assert.equal(response.body.reason, "NotFound", path);
    }
  });

  it("serves an OpenAPI v2 document as protobuf", async () => {
    const response = await fetch(`${emulator.url}/openapi/v2`, {
      headers: { Accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" },
    });
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    );
    const version = Buffer.from(emulatedKubernetesVersion.gitVersion);
    // Document field 1 (swagger) is "2.0", and field 2 (info) contains title (1) and version (2).
    const expected = Buffer.concat([
      Buffer.from([0x0a, 3]),
      Buffer.from("2.0"),
      Buffer.from([0x12, 2 + 10 + 2 + version.length]),
      Buffer.from([0x0a, 10]),
      Buffer.from("Kubernetes"),
      Buffer.from([0x12, version.length]),
      version,
    ]);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), expected);
  });

  it("serves an OpenAPI v3 root listing each group version", async () => {
    const root = await get("/openapi/v3");
    const entry = root.body.paths["apis/external-secrets.io/v1"];
    assert.match(entry.serverRelativeURL, /^\/openapi\/v3\/apis\/external-secrets.io\/v1\?hash=/);
    const document = await get(entry.serverRelativeURL);
    const patch =
      document.body.paths[
        "/apis/external-secrets.io/v1/namespaces/{namespace}/externalsecrets/{name}"
      ].patch;
    assert.ok(
      patch.parameters.some((parameter: { name: string }) => parameter.name === "fieldValidation"),
    );
  });
});

describe("get and list", () => {
  it("gets one ExternalSecret with server-set metadata", async () => {
    const response = await get(externalSecretsPath("payments", "stripe"));
    assert.equal(response.status, 200);
    const { metadata } = response.body;
    assert.equal(response.body.kind, "ExternalSecret");
    assert.equal(metadata.name, "stripe");
    assert.match(metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(metadata.resourceVersion, /^\d+$/);
    assert.match(metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(metadata.generation, 1);
  });

  it("answers 404 NotFound Status with details", async () => {
    const response = await get(externalSecretsPath("payments", "nope"));
    assert.equal(response.status, 404);
    assert.deepEqual(response.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'externalsecrets.external-secrets.io "nope" not found',
      reason: "NotFound",
      details: { name: "nope", group: "external-secrets.io", kind: "externalsecrets" },
      code: 404,
    });
  });

  it("lists across all namespaces sorted by namespace and name", async () => {
    const response = await get(externalSecretsPath());
    assert.equal(response.body.kind, "ExternalSecretList");
    assert.equal(response.body.metadata.resourceVersion, emulator.store.resourceVersion);
    assert.deepEqual(names(response.body), [
      "payments/db-credentials",
      "payments/stripe",
      "payments/unrelated",
      "sandbox/db-credentials",
      "web/all-app-secrets",
      "web/rendered-config",
    ]);
  });

  it("lists one namespace", async () => {
    const response = await get(externalSecretsPath("web"));
    assert.deepEqual(names(response.body), ["web/all-app-secrets", "web/rendered-config"]);
  });

  const selectorCases: Array<[query: string, expected: string[]]> = [
    ["labelSelector=tier%3Dbackend", ["payments/db-credentials", "sandbox/db-credentials"]],
    ["labelSelector=tier%20in%20(frontend)%2Capp%3Dsite", ["web/rendered-config"]],
    ["labelSelector=!tier", ["payments/unrelated", "web/all-app-secrets"]],
    ["labelSelector=app%20notin%20(ledger%2Csite)", ["payments/stripe"]],
    [
      "fieldSelector=metadata.name%3Ddb-credentials",
      ["payments/db-credentials", "sandbox/db-credentials"],
    ],
    [
      "fieldSelector=metadata.namespace!%3Dpayments",
      ["sandbox/db-credentials", "web/all-app-secrets", "web/rendered-config"],
    ],
  ];
  for (const [query, expected] of selectorCases) {
    it(`filters with ${decodeURIComponent(query)}`, async () => {
      const response = await get(`${externalSecretsPath()}?${query}`);
      assert.equal(response.status, 200);
      assert.deepEqual(names(response.body), expected);
    });
  }

  it("answers 400 for an invalid selector", async () => {
    for (const query of ["labelSelector=tier%20in%20backend", "fieldSelector=spec.target%3Dx"]) {
      const response = await get(`${externalSecretsPath()}?${query}`);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.reason, "BadRequest", query);
    }
  });

  it("pages with limit and continue", async () => {
    const first = await get(`${externalSecretsPath()}?limit=4`);
    assert.equal(first.body.items.length, 4);
    assert.equal(first.body.metadata.remainingItemCount, 2);
    assert.equal(typeof first.body.metadata.continue, "string");

    const second = await get(
      `${externalSecretsPath()}?limit=4&continue=${encodeURIComponent(first.body.metadata.continue)}`,
    );
    assert.deepEqual(names(second.body), ["web/all-app-secrets", "web/rendered-config"]);
    assert.equal(second.body.metadata.continue, undefined);
    assert.equal(second.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
  });

  it("answers 400 for a continue token it did not issue", async () => {
    const response = await get(`${externalSecretsPath()}?continue=garbage`);
    assert.equal(response.status, 400);
  });

  it("lists Namespaces with the name label", async () => {
    const response = await get("/api/v1/namespaces");
    assert.deepEqual(names(response.body), ["/payments", "/sandbox", "/web"]);
    const payments = response.body.items[0];
    assert.equal(payments.metadata.labels["kubernetes.io/metadata.name"], "payments");
    assert.equal(payments.status.phase, "Active");
  });

  it("selects Namespaces by label", async () => {
    const response = await get("/api/v1/namespaces?labelSelector=env%3Dprod%2Creload%3Denabled");
    assert.deepEqual(names(response.body), ["/payments"]);
  });

  it("answers 405 for POST to an object", async () => {
    const response = await requestJson(
      emulator.url,
      "POST",
      externalSecretsPath("payments", "stripe"),
      {},
    );
    assert.equal(response.status, 405);
    assert.equal(response.body.reason, "MethodNotAllowed");
  });
});
