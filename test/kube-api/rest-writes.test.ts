import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import type { KubeApiEmulator } from "./emulator.js";
import { externalSecretsPath, requestJson, startFixtureEmulator } from "./suite-helpers.js";

let emulator: KubeApiEmulator;

beforeEach(async () => {
  emulator = await startFixtureEmulator();
});

afterEach(async () => {
  await emulator.close();
});

function send(
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): ReturnType<typeof requestJson> {
  return requestJson(emulator.url, method, path, body, contentType);
}

function newExternalSecret(
  name: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "external-secrets.io/v1",
    kind: "ExternalSecret",
    metadata: { name, labels: { app: "new" } },
    spec: {
      refreshInterval: "1h",
      secretStoreRef: { kind: "ClusterSecretStore", name: "vault" },
      target: { name },
    },
    ...extra,
  };
}

describe("create", () => {
  it("stores the object with the next resourceVersion", async () => {
    const before = Number(emulator.store.resourceVersion);
    const response = await send("POST", externalSecretsPath("web"), newExternalSecret("api"));
    assert.equal(response.status, 201);
    assert.equal(response.body.metadata.namespace, "web");
    assert.equal(response.body.metadata.resourceVersion, String(before + 1));
    assert.equal(response.body.metadata.generation, 1);
    assert.equal(
      emulator.store.get("externalsecrets", "web", "api")?.metadata.uid,
      response.body.metadata.uid,
    );
  });

  it("drops status on create", async () => {
    const response = await send(
      "POST",
      externalSecretsPath("web"),
      newExternalSecret("api", { status: { refreshTime: "x" } }),
    );
    assert.equal(response.body.status, undefined);
  });

  it("answers 409 AlreadyExists for a taken name", async () => {
    const response = await send(
      "POST",
      externalSecretsPath("payments"),
      newExternalSecret("stripe"),
    );
    assert.equal(response.status, 409);
    assert.equal(response.body.reason, "AlreadyExists");
    assert.equal(
      response.body.message,
      'externalsecrets.external-secrets.io "stripe" already exists',
    );
  });

  it("answers 404 for a missing namespace", async () => {
    const response = await send("POST", externalSecretsPath("nowhere"), newExternalSecret("api"));
    assert.equal(response.status, 404);
    assert.equal(response.body.message, 'namespaces "nowhere" not found');
  });

  it("answers 422 Invalid for a bad name and label", async () => {
    const body = newExternalSecret("Bad_Name");
    (body["metadata"] as Record<string, unknown>)["labels"] = { tier: "not valid!" };
    const response = await send("POST", externalSecretsPath("web"), body);
    assert.equal(response.status, 422);
    assert.equal(response.body.reason, "Invalid");
    const fields = response.body.details.causes.map((cause: { field: string }) => cause.field);
    assert.deepEqual(fields, ["metadata.name", "metadata.labels.tier"]);
  });

  it("answers 400 for a kind that does not match the URL", async () => {
    const response = await send("POST", externalSecretsPath("web"), {
      ...newExternalSecret("api"),
      kind: "ConfigMap",
    });
    assert.equal(response.status, 400);
  });

  it("does not store with dryRun=All", async () => {
    const before = emulator.store.resourceVersion;
    const response = await send(
      "POST",
      `${externalSecretsPath("web")}?dryRun=All&fieldManager=test`,
      newExternalSecret("api"),
    );
    assert.equal(response.status, 201);
    assert.equal(response.body.metadata.name, "api");
    assert.equal(emulator.store.get("externalsecrets", "web", "api"), undefined);
    assert.equal(emulator.store.resourceVersion, before);
  });

  it("fills the name from generateName", async () => {
    const body = newExternalSecret("");
    (body["metadata"] as Record<string, unknown>)["generateName"] = "gen-";
    const response = await send("POST", externalSecretsPath("web"), body);
    assert.equal(response.status, 201);
    assert.match(response.body.metadata.name, /^gen-[a-z0-9]{5}$/);
  });

  it("accepts a YAML body", async () => {
    const yaml =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site-template}\ndata: {config.tmpl: hello}\n";
    const response = await send(
      "POST",
      "/api/v1/namespaces/web/configmaps",
      yaml,
      "application/yaml",
    );
    assert.equal(response.status, 201);
    assert.equal(response.body.data["config.tmpl"], "hello");
  });

  it("encodes Secret stringData into data", async () => {
    const body = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "shared-tls" },
      stringData: { "tls.crt": "abc" },
    };
    const response = await send("POST", "/api/v1/namespaces/web/secrets", body);
    assert.equal(response.status, 201);
    assert.deepEqual(response.body.data, { "tls.crt": Buffer.from("abc").toString("base64") });
    assert.equal(response.body.stringData, undefined);
    assert.equal(response.body.type, "Opaque");
  });
});

describe("update", () => {
  it("answers 409 Conflict for a stale resourceVersion", async () => {
    const current = await send("GET", externalSecretsPath("payments", "stripe"));
    const stale = structuredClone(current.body);
    await send(
      "PATCH",
      externalSecretsPath("payments", "stripe"),
      { metadata: { labels: { touched: "yes" } } },
      "application/merge-patch+json",
    );

    const response = await send("PUT", externalSecretsPath("payments", "stripe"), stale);
    assert.equal(response.status, 409);
    assert.equal(response.body.reason, "Conflict");
    assert.equal(
      response.body.message,
      'Operation cannot be fulfilled on externalsecrets.external-secrets.io "stripe": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.deepEqual(response.body.details, {
      name: "stripe",
      group: "external-secrets.io",
      kind: "externalsecrets",
    });
  });

  it("bumps generation on spec changes only", async () => {
    const current = (await send("GET", externalSecretsPath("payments", "stripe"))).body;
    current.metadata.labels.extra = "x";
    const relabeled = await send("PUT", externalSecretsPath("payments", "stripe"), current);
    assert.equal(relabeled.status, 200);
    assert.equal(relabeled.body.metadata.generation, 1);

    relabeled.body.spec.refreshInterval = "5m";
    const respecced = await send("PUT", externalSecretsPath("payments", "stripe"), relabeled.body);
    assert.equal(respecced.body.metadata.generation, 2);
    assert.ok(
      Number(respecced.body.metadata.resourceVersion) >
        Number(relabeled.body.metadata.resourceVersion),
    );
  });

  it("keeps the resourceVersion when nothing changes", async () => {
    const current = (await send("GET", externalSecretsPath("payments", "stripe"))).body;
    const response = await send("PUT", externalSecretsPath("payments", "stripe"), current);
    assert.equal(response.status, 200);
    assert.equal(response.body.metadata.resourceVersion, current.metadata.resourceVersion);
  });

  it("answers 400 for a name that differs from the URL", async () => {
    const current = (await send("GET", externalSecretsPath("payments", "stripe"))).body;
    current.metadata.name = "other";
    const response = await send("PUT", externalSecretsPath("payments", "stripe"), current);
    assert.equal(response.status, 400);
  });

  it("answers 404 for a missing object", async () => {
    const response = await send(
      "PUT",
      externalSecretsPath("payments", "nope"),
      newExternalSecret("nope"),
    );
    assert.equal(response.status, 404);
  });
});

describe("patch", () => {
  const stripe = externalSecretsPath("payments", "stripe");

  it("applies a merge patch where null deletes a key", async () => {
    await send(
      "PATCH",
      stripe,
      { metadata: { annotations: { a: "1", b: "2" } } },
      "application/merge-patch+json",
    );
    const response = await send(
      "PATCH",
      stripe,
      { metadata: { annotations: { a: null } } },
      "application/merge-patch+json",
    );
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.metadata.annotations, { b: "2" });
  });

  it("answers 409 for a merge patch with a stale resourceVersion", async () => {
    const response = await send(
      "PATCH",
      stripe,
      { metadata: { resourceVersion: "1", annotations: { a: "1" } } },
      "application/merge-patch+json",
    );
    assert.equal(response.status, 409);
    assert.equal(response.body.reason, "Conflict");
  });

  it("accepts a merge patch with the current resourceVersion", async () => {
    const current = emulator.store.mustGet("externalsecrets", "payments", "stripe");
    const body = {
      metadata: { resourceVersion: current.metadata.resourceVersion, annotations: { a: "1" } },
    };
    const response = await send("PATCH", stripe, body, "application/merge-patch+json");
    assert.equal(response.status, 200);
  });

  it("applies a JSON patch", async () => {
    const operations = [
      { op: "add", path: "/metadata/annotations", value: { "reloader/x": "y" } },
      { op: "replace", path: "/spec/refreshInterval", value: "2h" },
    ];
    const response = await send("PATCH", stripe, operations, "application/json-patch+json");
    assert.equal(response.status, 200);
    assert.equal(response.body.metadata.annotations["reloader/x"], "y");
    assert.equal(response.body.metadata.generation, 2);
  });

  it("answers 422 for a failed JSON patch test", async () => {
    const operations = [{ op: "test", path: "/spec/refreshInterval", value: "9h" }];
    const response = await send("PATCH", stripe, operations, "application/json-patch+json");
    assert.equal(response.status, 422);
    assert.equal(response.body.kind, "Status");
  });

  it("answers 400 for a malformed JSON patch", async () => {
    const response = await send("PATCH", stripe, { op: "add" }, "application/json-patch+json");
    assert.equal(response.status, 400);
  });

  it("answers 415 for a strategic merge patch on a custom resource", async () => {
    const response = await send(
      "PATCH",
      stripe,
      { metadata: { labels: { a: "b" } } },
      "application/strategic-merge-patch+json",
    );
    assert.equal(response.status, 415);
    assert.equal(response.body.reason, "UnsupportedMediaType");
  });

  it("applies a strategic merge patch to a Namespace", async () => {
    const body = { metadata: { labels: { reload: "enabled" } } };
    const response = await send(
      "PATCH",
      "/api/v1/namespaces/web",
      body,
      "application/strategic-merge-patch+json",
    );
    assert.equal(response.status, 200);
    assert.equal(response.body.metadata.labels.reload, "enabled");
    assert.equal(response.body.metadata.labels.team, "web");
  });

  it("answers 415 for an unknown patch type", async () => {
    const response = await send("PATCH", stripe, { metadata: {} }, "text/plain");
    assert.equal(response.status, 415);
  });
});

describe("status subresource", () => {
  const stripe = externalSecretsPath("payments", "stripe");
  const status = `${stripe}/status`;

  it("changes only status through /status", async () => {
    const current = (await send("GET", status)).body;
    current.status = { conditions: [{ type: "Ready", status: "True" }] };
    current.spec.refreshInterval = "1s";
    current.metadata.labels = { changed: "yes" };

    const response = await send("PUT", status, current);
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.status, current.status);
    assert.equal(response.body.spec.refreshInterval, "24h");
    assert.equal(response.body.metadata.labels.changed, undefined);
    assert.equal(response.body.metadata.generation, 1);
  });

  it("merge-patches status through /status", async () => {
    const response = await send(
      "PATCH",
      status,
      { status: { refreshTime: "2024-01-01T00:00:00Z" } },
      "application/merge-patch+json",
    );
    assert.equal(response.status, 200);
    assert.equal(response.body.status.refreshTime, "2024-01-01T00:00:00Z");
  });

  it("ignores status in writes to the main resource", async () => {
    await send(
      "PATCH",
      status,
      { status: { refreshTime: "kept" } },
      "application/merge-patch+json",
    );
    const response = await send(
      "PATCH",
      stripe,
      { status: { refreshTime: "ignored" }, metadata: { labels: { a: "b" } } },
      "application/merge-patch+json",
    );
    assert.equal(response.body.status.refreshTime, "kept");
    assert.equal(response.body.metadata.labels.a, "b");
  });

  it("answers 404 for a subresource that does not exist", async () => {
    const response = await send("GET", "/api/v1/namespaces/web/configmaps/x/status");
    assert.equal(response.status, 404);
  });
});

describe("delete", () => {
  it("deletes and returns the object", async () => {
    const response = await send("DELETE", externalSecretsPath("payments", "stripe"));
    assert.equal(response.status, 200);
    assert.equal(response.body.metadata.name, "stripe");
    assert.equal((await send("GET", externalSecretsPath("payments", "stripe"))).status, 404);
  });

  it("answers 409 when a precondition fails", async () => {
    const body = {
      kind: "DeleteOptions",
      apiVersion: "v1",
      preconditions: { resourceVersion: "1" },
    };
    const response = await send("DELETE", externalSecretsPath("payments", "stripe"), body);
    assert.equal(response.status, 409);
    assert.ok(emulator.store.get("externalsecrets", "payments", "stripe"));
  });

  it("waits for finalizers before removing", async () => {
    const path = externalSecretsPath("payments", "stripe");
    await send(
      "PATCH",
      path,
      { metadata: { finalizers: ["example.com/hold"] } },
      "application/merge-patch+json",
    );

    const deleting = await send("DELETE", path);
    assert.equal(deleting.status, 202);
    assert.match(deleting.body.metadata.deletionTimestamp, /Z$/);
    assert.equal((await send("GET", path)).status, 200);

    await send("PATCH", path, { metadata: { finalizers: null } }, "application/merge-patch+json");
    assert.equal((await send("GET", path)).status, 404);
  });

  it("deletes the contents of a deleted Namespace", async () => {
    const response = await send("DELETE", "/api/v1/namespaces/payments");
    assert.equal(response.status, 200);
    assert.deepEqual(emulator.store.list("externalsecrets", "payments"), []);
    assert.equal(emulator.store.list("externalsecrets").length, 3);
  });

  it("deletes a collection by label", async () => {
    const response = await send(
      "DELETE",
      `${externalSecretsPath("payments")}?labelSelector=app%3Dledger`,
    );
    assert.equal(response.status, 200);
    assert.equal(response.body.items.length, 2);
    assert.deepEqual(
      emulator.store.list("externalsecrets", "payments").map((object) => object.metadata.name),
      ["stripe"],
    );
  });
});
