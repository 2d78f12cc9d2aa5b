import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import type { KubeApiEmulator } from "./emulator.js";
import {
  externalSecretsPath,
  requestJson,
  startFixtureEmulator,
  WatchReader,
} from "./suite-helpers.js";

let emulator: KubeApiEmulator | undefined;
const readers: WatchReader[] = [];

async function start(
  options: Parameters<typeof startFixtureEmulator>[0] = {},
): Promise<KubeApiEmulator> {
  emulator = await startFixtureEmulator(options);
  return emulator;
}

async function watch(server: KubeApiEmulator, path: string): Promise<WatchReader> {
  const reader = await WatchReader.open(`${server.url}${path}`);
  readers.push(reader);
  return reader;
}

function mergePatch(
  server: KubeApiEmulator,
  path: string,
  body: unknown,
): ReturnType<typeof requestJson> {
  return requestJson(server.url, "PATCH", path, body, "application/merge-patch+json");
}

afterEach(async () => {
  for (const reader of readers.splice(0)) {
    reader.close();
  }
  await emulator?.close();
  emulator = undefined;
});

describe("watch", () => {
  it("starts with ADDED for current objects without resourceVersion", async () => {
    const server = await start();
    const reader = await watch(server, `${externalSecretsPath("web")}?watch=true`);
    assert.equal(reader.statusCode, 200);
    assert.equal(reader.contentType, "application/json");

    const events = await reader.waitForEvents(2);
    assert.deepEqual(
      events.map((event) => `${event.type} ${event.object.metadata.name}`),
      ["ADDED all-app-secrets", "ADDED rendered-config"],
    );
  });

  it("streams MODIFIED and DELETED from a resourceVersion", async () => {
    const server = await start();
    const list = await requestJson(server.url, "GET", externalSecretsPath());
    const reader = await watch(
      server,
      `${externalSecretsPath()}?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`,
    );

    await mergePatch(server, externalSecretsPath("payments", "stripe"), {
      metadata: { annotations: { a: "b" } },
    });
    await requestJson(server.url, "DELETE", externalSecretsPath("web", "rendered-config"));
    const events = await reader.waitForEvents(2);

    assert.equal(events.length, 2);
    assert.equal(events[0]?.type, "MODIFIED");
    assert.equal(events[0]?.object.metadata.annotations.a, "b");
    assert.equal(events[1]?.type, "DELETED");
    assert.equal(events[1]?.object.metadata.name, "rendered-config");
    assert.equal(events[1]?.object.metadata.resourceVersion, server.store.resourceVersion);
  });

  it("replays history after an old resourceVersion", async () => {
    const server = await start();
    const before = server.store.resourceVersion;
    await mergePatch(server, externalSecretsPath("payments", "stripe"), {
      metadata: { labels: { step: "1" } },
    });
    await mergePatch(server, externalSecretsPath("payments", "stripe"), {
      metadata: { labels: { step: "2" } },
    });

    const reader = await watch(
      server,
      `${externalSecretsPath("payments")}?watch=true&resourceVersion=${before}`,
    );
    const events = await reader.waitForEvents(2);
    assert.deepEqual(
      events.map((event) => event.object.metadata.labels.step),
      ["1", "2"],
    );
  });

  it("sends ADDED and DELETED when labels move across the selector", async () => {
    const server = await start();
    const reader = await watch(
      server,
      `${externalSecretsPath()}?watch=true&labelSelector=tier%3Dbackend&resourceVersion=${server.store.resourceVersion}`,
    );
    const stripe = externalSecretsPath("payments", "stripe");

    await mergePatch(server, stripe, { metadata: { labels: { tier: "backend" } } });
    await mergePatch(server, stripe, { metadata: { annotations: { touched: "yes" } } });
    await mergePatch(server, stripe, { metadata: { labels: { tier: "frontend" } } });
    await mergePatch(server, externalSecretsPath("web", "all-app-secrets"), {
      metadata: { labels: { other: "x" } },
    });

    const events = await reader.waitForEvents(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      reader.events.map((event) => `${event.type} ${event.object.metadata.name}`),
      ["ADDED stripe", "MODIFIED stripe", "DELETED stripe"],
    );
    assert.equal(events.length, 3);
  });

  it("filters by fieldSelector", async () => {
    const server = await start();
    const reader = await watch(
      server,
      `${externalSecretsPath()}?watch=true&fieldSelector=metadata.name%3Dstripe`,
    );
    const events = await reader.waitForEvents(1);
    assert.equal(events[0]?.object.metadata.name, "stripe");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(reader.events.length, 1);
  });

  it("answers ERROR 410 for a compacted resourceVersion", async () => {
    const server = await start();
    const old = server.store.resourceVersion;
    await mergePatch(server, externalSecretsPath("payments", "stripe"), {
      metadata: { labels: { x: "y" } },
    });
    server.compact();

    const reader = await watch(
      server,
      `${externalSecretsPath()}?watch=true&resourceVersion=${Number(old) - 1}`,
    );
    const [event] = await reader.waitForEvents(1);
    await reader.waitForEnd();
    assert.equal(reader.statusCode, 200);
    assert.equal(event?.type, "ERROR");
    assert.equal(event?.object.kind, "Status");
    assert.equal(event?.object.code, 410);
    assert.equal(event?.object.reason, "Expired");
    assert.match(event?.object.message, /^too old resource version: \d+ \(\d+\)$/);
  });

  it("answers ERROR 410 once history overflows its limit", async () => {
    const server = await start({ historyLimit: 3 });
    const old = server.store.resourceVersion;
    for (let step = 0; step < 4; step += 1) {
      await mergePatch(server, externalSecretsPath("payments", "stripe"), {
        metadata: { labels: { step: String(step) } },
      });
    }

    const stale = await watch(server, `${externalSecretsPath()}?watch=true&resourceVersion=${old}`);
    const [event] = await stale.waitForEvents(1);
    assert.equal(event?.object.code, 410);

    const recent = await watch(
      server,
      `${externalSecretsPath()}?watch=true&resourceVersion=${Number(server.store.resourceVersion) - 3}`,
    );
    const events = await recent.waitForEvents(3);
    assert.deepEqual(
      events.map((entry) => entry.type),
      ["MODIFIED", "MODIFIED", "MODIFIED"],
    );
  });

  it("sends bookmarks when allowed", async () => {
    const server = await start({ bookmarkIntervalMs: 30 });
    const reader = await watch(
      server,
      `${externalSecretsPath()}?watch=true&allowWatchBookmarks=true&resourceVersion=${server.store.resourceVersion}`,
    );
    const [event] = await reader.waitForEvents(1);
    assert.equal(event?.type, "BOOKMARK");
    assert.equal(event?.object.kind, "ExternalSecret");
    assert.equal(event?.object.metadata.resourceVersion, server.store.resourceVersion);
  });

  it("ends initial events with a bookmark for sendInitialEvents", async () => {
    const server = await start();
    const query =
      "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan";
    const reader = await watch(server, `${externalSecretsPath("web")}?${query}`);
    const events = await reader.waitForEvents(3);
    assert.deepEqual(
      events.map((event) => event.type),
      ["ADDED", "ADDED", "BOOKMARK"],
    );
    assert.equal(events[2]?.object.metadata.annotations["k8s.io/initial-events-end"], "true");
  });

  it("ends the response after timeoutSeconds", async () => {
    const server = await start();
    const started = Date.now();
    const reader = await watch(
      server,
      `${externalSecretsPath()}?watch=true&timeoutSeconds=1&resourceVersion=${server.store.resourceVersion}`,
    );
    await reader.waitForEnd(3000);
    assert.ok(Date.now() - started >= 900, "the watch ended before its timeout");
  });

  it("ends every watch when closeWatches runs", async () => {
    const server = await start();
    const first = await watch(server, `${externalSecretsPath()}?watch=true`);
    const second = await watch(server, "/api/v1/namespaces?watch=true");
    await first.waitForEvents(6);

    assert.equal(server.closeWatches(), 2);
    await first.waitForEnd();
    await second.waitForEnd();
  });

  it("answers 400 for a non-numeric resourceVersion", async () => {
    const server = await start();
    const response = await requestJson(
      server.url,
      "GET",
      `${externalSecretsPath()}?watch=true&resourceVersion=abc`,
    );
    assert.equal(response.status, 400);
  });

  it("watches one object by name", async () => {
    const server = await start();
    const reader = await watch(server, `${externalSecretsPath("payments", "stripe")}?watch=true`);
    await mergePatch(server, externalSecretsPath("payments", "unrelated"), {
      metadata: { labels: { x: "y" } },
    });
    await mergePatch(server, externalSecretsPath("payments", "stripe"), {
      metadata: { labels: { x: "y" } },
    });
    const events = await reader.waitForEvents(2);
    assert.deepEqual(
      events.map((event) => `${event.type} ${event.object.metadata.name}`),
      ["ADDED stripe", "MODIFIED stripe"],
    );
  });
});
