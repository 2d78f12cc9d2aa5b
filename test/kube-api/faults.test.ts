import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import type { KubeApiEmulator } from "./emulator.js";
import {
  externalSecretsPath,
  requestJson,
  startFixtureEmulator,
  WatchReader,
} from "./suite-helpers.js";

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

const stripe = externalSecretsPath("payments", "stripe");
const mergePatch = "application/merge-patch+json";

describe("fault injection in process", () => {
  it("answers 429 with Retry-After for the next N matches", async () => {
    emulator.faults.add({
      verb: "patch",
      resource: "externalsecrets",
      status: 429,
      retryAfterSeconds: 3,
      times: 2,
    });

    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await send(
        "PATCH",
        stripe,
        { metadata: { labels: { a: "b" } } },
        mergePatch,
      );
      assert.equal(response.status, 429);
      assert.equal(response.headers.get("retry-after"), "3");
      assert.equal(response.body.reason, "TooManyRequests");
      assert.equal(response.body.details.retryAfterSeconds, 3);
    }

    const third = await send("PATCH", stripe, { metadata: { labels: { a: "b" } } }, mergePatch);
    assert.equal(third.status, 200);
    assert.deepEqual(emulator.faults.list(), []);
  });

  it("matches only the given namespace and name", async () => {
    emulator.faults.add({ namespace: "web", name: "rendered-config", status: 500 });
    assert.equal((await send("GET", stripe)).status, 200);

    const failed = await send("GET", externalSecretsPath("web", "rendered-config"));
    assert.equal(failed.status, 500);
    assert.equal(failed.body.reason, "InternalError");
    assert.equal((await send("GET", externalSecretsPath("web", "rendered-config"))).status, 500);
  });

  it("matches list but not watch", async () => {
    emulator.faults.add({ verb: "list", resource: "externalsecrets", status: 503 });
    const list = await send("GET", externalSecretsPath());
    assert.equal(list.status, 503);
    assert.equal(list.headers.get("retry-after"), "1");

    const watch = await WatchReader.open(`${emulator.url}${externalSecretsPath("web")}?watch=true`);
    assert.equal(watch.statusCode, 200);
    watch.close();
  });

  it("matches the status subresource separately", async () => {
    emulator.faults.add({ resource: "externalsecrets/status", status: 409 });
    assert.equal((await send("GET", stripe)).status, 200);
    const response = await send("GET", `${stripe}/status`);
    assert.equal(response.status, 409);
    assert.equal(response.body.reason, "Conflict");
  });

  it("adds latency without failing", async () => {
    emulator.faults.add({ method: "GET", latencyMs: 150, times: 1 });
    const started = Date.now();
    const response = await send("GET", stripe);
    assert.equal(response.status, 200);
    assert.ok(Date.now() - started >= 140, "the response came before the injected latency");
  });

  it("resets the connection", async () => {
    emulator.faults.add({ method: "GET", resetConnection: true, times: 1 });
    await assert.rejects(fetch(`${emulator.url}${stripe}`), TypeError);
    assert.equal((await send("GET", stripe)).status, 200);
  });

  it("rejects a rule that changes nothing", () => {
    assert.throws(
      () => emulator.faults.add({ verb: "get" }),
      /needs status, latencyMs or resetConnection/,
    );
    assert.throws(() => emulator.faults.add({ status: 200 }), /from 400 to 599/);
    assert.throws(() => emulator.faults.add({ status: 500, times: 0 }), /positive integer/);
  });
});

describe("fault injection over HTTP", () => {
  it("adds, lists and clears rules", async () => {
    const added = await send("POST", "/_emulator/faults", [
      { verb: "get", status: 500 },
      { verb: "list", status: 429 },
    ]);
    assert.equal(added.status, 201);
    assert.equal(added.body.items.length, 2);

    assert.equal((await send("GET", stripe)).status, 500);
    const listed = await send("GET", "/_emulator/faults");
    assert.equal(listed.body.items[0].matched, 1);

    const removed = await send("DELETE", `/_emulator/faults/${added.body.items[1].id}`);
    assert.equal(removed.status, 200);
    assert.equal((await send("GET", externalSecretsPath())).status, 200);

    const cleared = await send("DELETE", "/_emulator/faults");
    assert.deepEqual(cleared.body, { removed: 1 });
    assert.equal((await send("GET", stripe)).status, 200);
  });

  it("answers 400 for an invalid rule and adds none", async () => {
    const response = await send("POST", "/_emulator/faults", [{ status: 500 }, { status: "bad" }]);
    assert.equal(response.status, 400);
    assert.match(response.body.message, /fault status must be an HTTP error code/);
    assert.deepEqual(emulator.faults.list(), []);
  });

  it("logs requests with content type and body", async () => {
    await send("DELETE", "/_emulator/requests");
    await send(
      "PATCH",
      `${stripe}?fieldManager=test`,
      { metadata: { annotations: { a: "b" } } },
      mergePatch,
    );

    const log = await send("GET", "/_emulator/requests");
    assert.equal(log.body.items.length, 1);
    const [entry] = log.body.items;
    assert.equal(entry.method, "PATCH");
    assert.equal(entry.path, stripe);
    assert.deepEqual(entry.query, { fieldManager: "test" });
    assert.equal(entry.contentType, mergePatch);
    assert.deepEqual(JSON.parse(entry.body), { metadata: { annotations: { a: "b" } } });
    assert.equal(entry.status, 200);
  });

  it("closes watches and compacts history", async () => {
    const old = emulator.store.resourceVersion;
    const reader = await WatchReader.open(
      `${emulator.url}${externalSecretsPath()}?watch=true&resourceVersion=${old}`,
    );
    await send("PATCH", stripe, { metadata: { labels: { a: "b" } } }, mergePatch);
    await reader.waitForEvents(1);

    const closed = await send("POST", "/_emulator/watches/close");
    assert.deepEqual(closed.body, { closed: 1 });
    await reader.waitForEnd();

    const compacted = await send("POST", "/_emulator/compact");
    assert.equal(compacted.body.compactedResourceVersion, emulator.store.resourceVersion);
    const stale = await WatchReader.open(
      `${emulator.url}${externalSecretsPath()}?watch=true&resourceVersion=${old}`,
    );
    const [event] = await stale.waitForEvents(1);
    assert.equal(event?.object.code, 410);
  });

  it("answers 404 for an unknown control path", async () => {
    const response = await send("POST", "/_emulator/unknown");
    assert.equal(response.status, 404);
  });
});
