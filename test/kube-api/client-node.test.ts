import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";

import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
} from "@kubernetes/client-node";

import type { KubeApiEmulator } from "./emulator.js";
import { externalSecretsPath, startFixtureEmulator, waitFor } from "./suite-helpers.js";

const group = "external-secrets.io";
const version = "v1";
const plural = "externalsecrets";

let emulator: KubeApiEmulator;
let customObjects: CustomObjectsApi;
let core: CoreV1Api;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  emulator = await startFixtureEmulator();
  const kubeConfig = emulator.kubeConfig();
  customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  core = kubeConfig.makeApiClient(CoreV1Api);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) {
    await cleanup();
  }
  await emulator.close();
});

/** Returns the Status reason of an ApiException; client-node 1.4 keeps error bodies as text. */
function statusReason(error: ApiException<unknown>): string {
  const body = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
  return (body as { reason: string }).reason;
}

function namesOf(list: { items: KubernetesObject[] }): string[] {
  return list.items.map((item) => `${item.metadata?.namespace}/${item.metadata?.name}`);
}

async function rejection(promise: Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an ApiException, got ${String(error)}`);
    return error;
  }
  throw new assert.AssertionError({ message: "expected the request to fail" });
}

describe("CustomObjectsApi", () => {
  it("lists ExternalSecrets across namespaces", async () => {
    const list = await customObjects.listCustomObjectForAllNamespaces({ group, version, plural });
    assert.equal(list.items.length, 6);
    assert.equal(list.metadata.resourceVersion, emulator.store.resourceVersion);
  });

  it("lists with a labelSelector", async () => {
    const list = await customObjects.listCustomObjectForAllNamespaces({
      group,
      version,
      plural,
      labelSelector: "tier=backend",
    });
    assert.deepEqual(namesOf(list), ["payments/db-credentials", "sandbox/db-credentials"]);
  });

  it("lists one namespace", async () => {
    const list = await customObjects.listNamespacedCustomObject({
      group,
      version,
      namespace: "web",
      plural,
    });
    assert.deepEqual(namesOf(list), ["web/all-app-secrets", "web/rendered-config"]);
  });

  it("gets one ExternalSecret", async () => {
    const object = await customObjects.getNamespacedCustomObject({
      group,
      version,
      namespace: "payments",
      plural,
      name: "stripe",
    });
    assert.equal(object.kind, "ExternalSecret");
    assert.equal(object.spec.refreshInterval, "24h");
  });

  it("sends a merge patch when the Content-Type is set", async () => {
    emulator.requests.clear();
    const body = { metadata: { annotations: { "reloader/x": "y", "force-sync": "1700000000" } } };
    const patched = await customObjects.patchNamespacedCustomObject(
      {
        group,
        version,
        namespace: "payments",
        plural,
        name: "stripe",
        body,
        fieldManager: "rotation-gateway",
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );

    assert.equal(patched.metadata.annotations["reloader/x"], "y");
    const stored = emulator.store.mustGet("externalsecrets", "payments", "stripe");
    assert.deepEqual(stored.metadata.annotations, {
      "reloader/x": "y",
      "force-sync": "1700000000",
    });
    assert.deepEqual(stored.metadata.labels, { app: "checkout", tier: "frontend" });

    const [request] = emulator.requests.list((entry) => entry.method === "PATCH");
    assert.equal(request?.contentType, "application/merge-patch+json");
    assert.equal(request?.query["fieldManager"], "rotation-gateway");
  });

  it("sends a JSON patch by default", async () => {
    emulator.requests.clear();
    const body = [{ op: "add", path: "/metadata/annotations", value: { "reloader/x": "z" } }];
    await customObjects.patchNamespacedCustomObject({
      group,
      version,
      namespace: "payments",
      plural,
      name: "stripe",
      body,
    });

    const [request] = emulator.requests.list((entry) => entry.method === "PATCH");
    assert.equal(request?.contentType, "application/json-patch+json");
    assert.equal(
      emulator.store.mustGet("externalsecrets", "payments", "stripe").metadata.annotations?.[
        "reloader/x"
      ],
      "z",
    );
  });

  it("gets 409 for a replace with a stale resourceVersion", async () => {
    const object = await customObjects.getNamespacedCustomObject({
      group,
      version,
      namespace: "payments",
      plural,
      name: "stripe",
    });
    emulator.store.replace("externalsecrets", "payments", "stripe", {
      ...object,
      metadata: { ...object.metadata, labels: { moved: "on" } },
    });

    const error = await rejection(
      customObjects.replaceNamespacedCustomObject({
        group,
        version,
        namespace: "payments",
        plural,
        name: "stripe",
        body: object,
      }),
    );
    assert.equal(error.code, 409);
    assert.equal(statusReason(error), "Conflict");
  });

  it("gets 404 for a missing object", async () => {
    const error = await rejection(
      customObjects.getNamespacedCustomObject({
        group,
        version,
        namespace: "payments",
        plural,
        name: "nope",
      }),
    );
    assert.equal(error.code, 404);
  });

  it("updates the status subresource only", async () => {
    const status = { conditions: [{ type: "Ready", status: "True", reason: "SecretSynced" }] };
    const patched = await customObjects.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        namespace: "payments",
        plural,
        name: "stripe",
        body: { status, spec: { refreshInterval: "1s" } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    assert.deepEqual(patched.status, status);
    assert.equal(patched.spec.refreshInterval, "24h");

    const read = await customObjects.getNamespacedCustomObjectStatus({
      group,
      version,
      namespace: "payments",
      plural,
      name: "stripe",
    });
    assert.deepEqual(read.status, status);
  });
});

describe("fault injection seen by client-node", () => {
  it("gets 429 with Retry-After", async () => {
    emulator.faults.add({ verb: "patch", status: 429, retryAfterSeconds: 2, times: 1 });
    const body = { metadata: { annotations: { a: "b" } } };
    const request = { group, version, namespace: "payments", plural, name: "stripe", body };

    const error = await rejection(
      customObjects.patchNamespacedCustomObject(
        request,
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
    assert.equal(error.code, 429);
    assert.equal(error.headers["retry-after"], "2");
    assert.equal(statusReason(error), "TooManyRequests");

    await customObjects.patchNamespacedCustomObject(
      request,
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    assert.equal(
      emulator.store.mustGet("externalsecrets", "payments", "stripe").metadata.annotations?.["a"],
      "b",
    );
  });

  it("gets 500 for a list", async () => {
    emulator.faults.add({ verb: "list", resource: "externalsecrets", status: 500, times: 1 });
    const error = await rejection(
      customObjects.listCustomObjectForAllNamespaces({ group, version, plural }),
    );
    assert.equal(error.code, 500);
  });
});

describe("CoreV1Api", () => {
  it("lists Namespaces with a labelSelector", async () => {
    const list = await core.listNamespace({ labelSelector: "env=prod" });
    assert.deepEqual(
      list.items.map((item) => item.metadata?.name),
      ["payments", "web"],
    );
  });

  it("merge-patches a Namespace", async () => {
    const body = { metadata: { labels: { reload: "enabled" } } };
    const patched = await core.patchNamespace(
      { name: "web", body },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    assert.equal(patched.metadata?.labels?.["reload"], "enabled");
  });
});

describe("Watch", () => {
  it("sees ADDED, MODIFIED and DELETED", async () => {
    const events: string[] = [];
    const watch = new Watch(emulator.kubeConfig());
    const controller = await watch.watch(
      externalSecretsPath("payments"),
      { resourceVersion: emulator.store.resourceVersion },
      (phase, object: KubernetesObject) => events.push(`${phase} ${object.metadata?.name}`),
      () => undefined,
    );
    cleanups.push(() => controller.abort());

    const created = {
      apiVersion: `${group}/${version}`,
      kind: "ExternalSecret",
      metadata: { name: "fresh" },
      spec: {},
    };
    await customObjects.createNamespacedCustomObject({
      group,
      version,
      namespace: "payments",
      plural,
      body: created,
    });
    await customObjects.patchNamespacedCustomObject(
      {
        group,
        version,
        namespace: "payments",
        plural,
        name: "fresh",
        body: { metadata: { labels: { a: "b" } } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await customObjects.deleteNamespacedCustomObject({
      group,
      version,
      namespace: "payments",
      plural,
      name: "fresh",
    });

    await waitFor("three watch events", () => events.length >= 3);
    assert.deepEqual(events, ["ADDED fresh", "MODIFIED fresh", "DELETED fresh"]);
  });

  it("gets ERROR 410 from a compacted resourceVersion", async () => {
    const old = emulator.store.resourceVersion;
    emulator.store.replace("externalsecrets", "payments", "stripe", {
      ...emulator.store.mustGet("externalsecrets", "payments", "stripe"),
      spec: {},
    });
    emulator.compact();

    const events: Array<{ phase: string; object: any }> = [];
    let done: unknown = "not called";
    const watch = new Watch(emulator.kubeConfig());
    const controller = await watch.watch(
      externalSecretsPath(),
      { resourceVersion: old },
      (phase, object) => events.push({ phase, object }),
      (error) => {
        done = error;
      },
    );
    cleanups.push(() => controller.abort());

    await waitFor("the watch to end", () => done !== "not called");
    assert.equal(done, null);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.phase, "ERROR");
    assert.equal(events[0]?.object.code, 410);
  });
});

describe("informer", () => {
  function startInformer(): ReturnType<typeof makeInformer<KubernetesObject>> {
    const informer = makeInformer<KubernetesObject>(
      emulator.kubeConfig(),
      externalSecretsPath(),
      () => customObjects.listCustomObjectForAllNamespaces({ group, version, plural }),
    );
    cleanups.push(() => informer.stop());
    return informer;
  }

  async function annotate(name: string, value: string): Promise<void> {
    await customObjects.patchNamespacedCustomObject(
      {
        group,
        version,
        namespace: "payments",
        plural,
        name,
        body: { metadata: { annotations: { step: value } } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  it("syncs and receives updates", async () => {
    const informer = startInformer();
    const updates: string[] = [];
    informer.on("update", (object) => updates.push(object.metadata?.annotations?.["step"] ?? ""));
    await informer.start();

    assert.equal(informer.list().length, 6);
    assert.equal(informer.list("payments").length, 3);

    await annotate("stripe", "one");
    await waitFor("the informer to see the update", () => updates.includes("one"));
    assert.equal(informer.get("stripe", "payments")?.metadata?.annotations?.["step"], "one");
  });

  it("resumes after the server closes its watch", async () => {
    const informer = startInformer();
    let connects = 0;
    informer.on("connect", () => {
      connects += 1;
    });
    await informer.start();
    await waitFor(
      "a watch to open",
      () => emulator.requests.list((entry) => entry.query["watch"] === "true").length === 1,
    );

    emulator.closeWatches();
    await waitFor("the informer to reconnect", () => connects === 2);
    await annotate("stripe", "after-reconnect");
    await waitFor(
      "the informer to see the change",
      () =>
        informer.get("stripe", "payments")?.metadata?.annotations?.["step"] === "after-reconnect",
    );

    const lists = emulator.requests.list(
      (entry) => entry.query["watch"] === undefined && entry.method === "GET",
    );
    assert.equal(lists.length, 1, "a resumed watch must not list again");
  });

  it("lists again after 410 Gone", async () => {
    const informer = startInformer();
    await informer.start();
    await waitFor(
      "a watch to open",
      () => emulator.requests.list((entry) => entry.query["watch"] === "true").length === 1,
    );

    // Delay the next watch so changes and a compaction happen while the informer is disconnected.
    emulator.faults.add({ verb: "watch", latencyMs: 200, times: 1 });
    emulator.closeWatches();
    await annotate("unrelated", "while-away");
    emulator.compact();

    await waitFor(
      "the informer to relist",
      () => informer.get("unrelated", "payments")?.metadata?.annotations?.["step"] === "while-away",
    );
    const lists = emulator.requests.list(
      (entry) => entry.query["watch"] === undefined && entry.method === "GET",
    );
    assert.equal(lists.length, 2);
  });
});

describe("kubeconfig file", () => {
  let directory: string;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-api-kubeconfig-"));
  });

  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("loads into client-node and reaches the emulator", async () => {
    const path = join(directory, "config");
    await emulator.writeKubeconfig(path, "web");
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(path);

    assert.equal(kubeConfig.getCurrentCluster()?.server, emulator.url);
    assert.equal(kubeConfig.getCurrentCluster()?.skipTLSVerify, true);
    assert.equal(kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace, "web");
    const list = await kubeConfig.makeApiClient(CoreV1Api).listNamespace();
    assert.equal(list.items.length, 3);
  });
});
