import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { after, describe, test } from "node:test";
import { Queue } from "bullmq";
import { Gateway } from "../../gateway/gateway.js";
import { freePort, startPrivateRedis } from "../../launcher/private-redis.js";
import { ListenError } from "../../gateway/listen-error.js";
import { ROTATION_JOB_NAME } from "../../gateway/rotation-enqueuer.js";
import { createLogger } from "../../shared/logger.js";
import { createMetricsRegistry, GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import { ROTATION_JOB_OPTIONS } from "../../shared/queue-contract.js";
import { fixturePath } from "../support/fixtures.js";
import {
  connectTo,
  deleteKeys,
  finish,
  identifiersWhenStored,
  randomPrefix,
  send,
  startTestGateway,
  TEST_CONFIG_NAME,
  TEST_REDIS_URL,
  testSource,
  testVaultSource,
  waitForValue,
  write,
  type TestGateway,
  type TestGatewaySettings,
} from "./gateway-harness.js";

const MIXED_STREAM_IDENTIFIERS = [
  "site-template",
  "shared-tls",
  "web/api-token",
  "nothing/here",
  "app/db-password",
];

function fixture(name: string): Buffer {
  return readFileSync(fixturePath(name));
}

function namedDocument(identifier: unknown): string {
  return `${JSON.stringify({ "0": { data: { ObjectName: identifier } } })}\n`;
}

/** Starts a gateway for one test and cleans it up when the suite ends. */
const harnesses: TestGateway[] = [];
async function gatewayForTest(settings?: TestGatewaySettings): Promise<TestGateway> {
  const harness = await startTestGateway(settings);
  harnesses.push(harness);
  return harness;
}
after(async () => {
  await Promise.all(harnesses.map((harness) => harness.cleanup()));
});

describe("Gateway fixtures over TCP", () => {
  test("one.ndjson stores one rotation job", async () => {
    const harness = await gatewayForTest();
    const before = Date.now();
    await send(harness.port, fixture("one.ndjson"));

    const jobs = await waitForValue(harness.jobs, (stored) => stored.length >= 1);
    assert.equal(jobs.length, 1);
    const [event] = jobs;
    assert.equal(event?.configName, TEST_CONFIG_NAME);
    assert.equal(event?.sourceType, "TCPSocket");
    assert.equal(event?.sourceIndex, 0);
    assert.equal(event?.identifier, "app/db-password");
    assert.ok((event?.receivedAt ?? 0) >= before, `receivedAt ${event?.receivedAt} < ${before}`);
    assert.ok((event?.receivedAt ?? Infinity) <= Date.now());
  });

  test("jobs carry the rotation job options", async () => {
    const harness = await gatewayForTest();
    await send(harness.port, fixture("one.ndjson"));
    await waitForValue(harness.jobs, (stored) => stored.length >= 1);

    const [job] = await harness.queue.getJobs(["waiting"]);
    assert.equal(job?.name, ROTATION_JOB_NAME);
    assert.equal(job?.opts.attempts, ROTATION_JOB_OPTIONS.attempts);
    assert.deepEqual(job?.opts.backoff, ROTATION_JOB_OPTIONS.backoff);
    assert.notEqual(job?.id, "app/db-password");
  });

  test("pretty.json stores its identifier", async () => {
    const harness = await gatewayForTest();
    await send(harness.port, fixture("pretty.json"));
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["payments/stripe-key"]);
  });

  test("mixed-stream.bin stores five identifiers in order", async () => {
    const harness = await gatewayForTest();
    await send(harness.port, fixture("mixed-stream.bin"));

    assert.deepEqual(await identifiersWhenStored(harness, 5), MIXED_STREAM_IDENTIFIERS);
    assert.equal(await harness.messages("accepted"), 5);
    assert.equal(await harness.messages("invalid_json"), 1);
    assert.equal(await harness.messages("not_string"), 1);
    assert.equal(await harness.messages("missing_identifier"), 1);
    assert.equal(await harness.messages("oversize"), 0);
    assert.equal(await waitForValue(harness.enqueued, (count) => count >= 5), 5);
  });

  test("vault-kv2-update.json with a Vault path", async () => {
    const harness = await gatewayForTest({ identifierPath: "request.path" });
    await send(harness.port, fixture("vault-kv2-update.json"));
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["secret/data/app/db-password"]);
  });

  test("socat sends mixed-stream.bin", async () => {
    const harness = await gatewayForTest();
    const run = promisify(execFile);
    try {
      await run("socat", [
        "-u",
        `OPEN:${fixturePath("mixed-stream.bin")},rdonly`,
        `TCP:127.0.0.1:${harness.port}`,
      ]);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        assert.fail("socat is not on PATH; install it (apt-get install socat)");
      }
      throw error;
    }
    assert.deepEqual(await identifiersWhenStored(harness, 5), MIXED_STREAM_IDENTIFIERS);
  });
});

describe("Gateway HashicorpVault source over TCP", () => {
  const VAULT_STREAM_IDENTIFIERS = ["app/db-password", "payments/stripe-key", "app/api-key"];

  test("vault-audit-stream.ndjson stores the three writes", async () => {
    const harness = await gatewayForTest({ source: testVaultSource() });
    await send(harness.port, fixture("vault-audit-stream.ndjson"));

    const jobs = await waitForValue(harness.jobs, (stored) => stored.length >= 3);
    assert.deepEqual(
      jobs.map((job) => job.identifier),
      VAULT_STREAM_IDENTIFIERS,
    );
    for (const job of jobs) {
      assert.equal(job.sourceType, "HashicorpVault");
      assert.equal(job.configName, TEST_CONFIG_NAME);
      assert.equal(job.sourceIndex, 0);
    }
    assert.equal(await harness.messages("accepted"), 3);
    assert.equal(await harness.messages("ignored"), 4);
    assert.equal(await harness.messages("invalid_json"), 0);
    assert.equal(await harness.messages("missing_identifier"), 0);
    assert.equal(await waitForValue(harness.enqueued, (count) => count >= 3), 3);
    assert.equal((await harness.jobs()).length, 3);
  });

  test("prefixed lines sent in small chunks", async () => {
    const prefix = "vault-audit: ";
    const harness = await gatewayForTest({ source: testVaultSource({ prefix }) });
    const lines = fixture("vault-audit-stream.ndjson")
      .toString("utf8")
      .split("\n")
      .filter((line) => line !== "");
    const stream = Buffer.from(lines.map((line) => `${prefix}${line}\n`).join(""));

    const socket = await connectTo(harness.port);
    for (let i = 0; i < stream.length; i += 5) {
      await write(socket, stream.subarray(i, i + 5));
    }
    await finish(socket);

    assert.deepEqual(await identifiersWhenStored(harness, 3), VAULT_STREAM_IDENTIFIERS);
    assert.equal(await harness.messages("ignored"), 4);
    assert.equal(await harness.messages("invalid_json"), 0);
  });

  test("namespaces and malformed entries", async () => {
    const source = testVaultSource({ includeNamespace: true, operations: ["update"] });
    const harness = await gatewayForTest({ source });
    const entry = JSON.parse(fixture("vault-kv2-update.json").toString("utf8")) as {
      request: Record<string, unknown>;
    };
    const namespaced = { ...entry, request: { ...entry.request, namespace: { path: "team-a/" } } };
    const withoutPath = { ...entry, request: { ...entry.request, path: undefined } };
    const text = [namespaced, withoutPath, entry].map((item) => JSON.stringify(item)).join("\n");
    await send(harness.port, `${text}\n`);

    assert.deepEqual(await identifiersWhenStored(harness, 2), [
      "team-a/app/db-password",
      "app/db-password",
    ]);
    assert.equal(await harness.messages("accepted"), 2);
    assert.equal(await harness.messages("missing_identifier"), 1);
  });
});

describe("Gateway stream handling", () => {
  test("sender writing one byte at a time", async () => {
    const harness = await gatewayForTest();
    const bytes = Buffer.concat([fixture("pretty.json"), fixture("mixed-stream.bin")]);
    const socket = await connectTo(harness.port);
    socket.setNoDelay(true);
    for (const byte of bytes) {
      await write(socket, Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await finish(socket);

    const expected = ["payments/stripe-key", ...MIXED_STREAM_IDENTIFIERS];
    assert.deepEqual(await identifiersWhenStored(harness, 6), expected);
  });

  test("document split inside multi-byte characters", async () => {
    const harness = await gatewayForTest();
    const identifier = "café/€uro-😀";
    const bytes = Buffer.from(namedDocument(identifier));
    const socket = await connectTo(harness.port);
    socket.setNoDelay(true);

    const eAcute = bytes.indexOf(Buffer.from("é"));
    const emoji = bytes.indexOf(Buffer.from("😀"));
    await write(socket, bytes.subarray(0, eAcute + 1));
    await sleep(30);
    await write(socket, bytes.subarray(eAcute + 1, emoji + 2));
    await sleep(30);
    await write(socket, bytes.subarray(emoji + 2));
    await finish(socket);

    assert.deepEqual(await identifiersWhenStored(harness, 1), [identifier]);
  });

  test("8 KiB document", async () => {
    const harness = await gatewayForTest();
    const document = JSON.stringify({
      "0": { data: { ObjectName: "big/secret", padding: "x".repeat(8192) } },
    });
    assert.ok(Buffer.byteLength(document) > 8192);
    await send(harness.port, `${document}\n`);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["big/secret"]);
  });

  test("oversize document then a valid one", async () => {
    const harness = await gatewayForTest({ maxMessageBytes: 1024 });
    const oversize = namedDocument(`too/big-${"x".repeat(4096)}`);
    await send(harness.port, oversize + namedDocument("after/oversize"));

    assert.deepEqual(await identifiersWhenStored(harness, 1), ["after/oversize"]);
    assert.equal(await harness.messages("oversize"), 1);
    assert.equal(await harness.messages("accepted"), 1);
  });

  test("empty and non-string identifiers are rejected", async () => {
    const harness = await gatewayForTest();
    const input = [
      namedDocument(""),
      namedDocument(null),
      namedDocument(["a"]),
      namedDocument("ok"),
    ];
    await send(harness.port, input.join(""));

    assert.deepEqual(await identifiersWhenStored(harness, 1), ["ok"]);
    assert.equal(await harness.messages("not_string"), 2);
    assert.equal(await harness.messages("rejected_identifier"), 1);
  });

  test("idle and surplus connections are closed and counted", async () => {
    const harness = await gatewayForTest({
      gateway: { idleTimeoutMs: 200, maxConnectionsPerSource: 1 },
    });
    const closedCount = (reason: string) =>
      readMetricValue(harness.registry, GatewayMetricName.ConnectionsClosed, {
        config: TEST_CONFIG_NAME,
        source: "0",
        reason,
      });

    const idle = await connectTo(harness.port);
    const surplus = await connectTo(harness.port);
    await new Promise<void>((resolve) => surplus.once("close", () => resolve()));
    assert.equal(await closedCount("max_connections"), 1);

    const started = Date.now();
    await new Promise<void>((resolve) => idle.once("close", () => resolve()));
    const idleMs = Date.now() - started;
    assert.ok(idleMs >= 150, `closed after ${idleMs} ms, before the idle timeout`);
    assert.equal(await closedCount("idle_timeout"), 1);
  });

  test("hostile identifiers are counted by reason", async () => {
    const harness = await gatewayForTest();
    const input = [
      namedDocument("hmac-sha256:5f1c"),
      namedDocument("app/\nforged log line"),
      namedDocument(`app/${"x".repeat(2000)}`),
      namedDocument("app/ok"),
    ];
    await send(harness.port, input.join(""));

    assert.deepEqual(await identifiersWhenStored(harness, 1), ["app/ok"]);
    assert.equal(await harness.messages("rejected_identifier"), 3);
    for (const reason of ["vault_hmac", "control_character", "too_long"]) {
      const count = await readMetricValue(harness.registry, GatewayMetricName.RejectedIdentifiers, {
        config: TEST_CONFIG_NAME,
        source: "0",
        reason,
      });
      assert.equal(count, 1, reason);
    }
  });

  test("multi-valued path stores each identifier", async () => {
    const harness = await gatewayForTest({ identifierPath: "secrets.#.name" });
    const document = {
      secrets: [{ name: "a/one" }, { name: 5 }, { name: "b/two" }, { name: "a/one" }],
    };
    await send(harness.port, `${JSON.stringify(document)}\n`);
    assert.deepEqual(await identifiersWhenStored(harness, 2), ["a/one", "b/two"]);
  });

  test("many connections at once", async () => {
    // 50 connections from 127.0.0.1 exceed the default of 32 per client.
    const harness = await gatewayForTest({ gateway: { maxConnectionsPerClient: 64 } });
    const senders = Array.from({ length: 50 }, (_, i) =>
      send(harness.port, namedDocument(`many/${i}-a`) + namedDocument(`many/${i}-b`)),
    );
    await Promise.all(senders);

    const stored = await identifiersWhenStored(harness, 100);
    const expected = Array.from({ length: 50 }, (_, i) => [`many/${i}-a`, `many/${i}-b`]).flat();
    assert.deepEqual([...stored].sort(), [...expected].sort());
    const open = await readMetricValue(harness.registry, GatewayMetricName.OpenConnections, {
      config: TEST_CONFIG_NAME,
      source: "0",
    });
    assert.equal(open, 0);
  });

  test("connection reset mid-document", async () => {
    const harness = await gatewayForTest();
    const socket = await connectTo(harness.port);
    await write(socket, namedDocument("before/reset") + '{"0":{"data":');
    await waitForValue(
      () => harness.messages("accepted"),
      (count) => count >= 1,
    );
    socket.resetAndDestroy();

    const invalid = await waitForValue(
      () => harness.messages("invalid_json"),
      (count) => count >= 1,
    );
    assert.equal(invalid, 1);
    await send(harness.port, namedDocument("after/reset"));
    assert.deepEqual(await identifiersWhenStored(harness, 2), ["before/reset", "after/reset"]);
  });
});

describe("Gateway lifecycle", () => {
  test("close() stores everything read", async () => {
    const harness = await gatewayForTest({
      gateway: { enqueuer: { flushDelayMs: 60_000, maxBatchSize: 10_000 } },
    });
    const socket = await connectTo(harness.port);
    const peerEnded = new Promise<void>((resolve) => socket.once("end", () => resolve()));
    await write(socket, fixture("one.ndjson"));
    await write(socket, fixture("pretty.json"));
    assert.equal(
      await waitForValue(
        () => harness.messages("accepted"),
        (count) => count >= 2,
      ),
      2,
    );
    assert.deepEqual(await harness.jobs(), [], "jobs were stored before close()");

    await harness.gateway.close();
    await peerEnded;
    const identifiers = (await harness.jobs()).map((job) => job.identifier);
    assert.deepEqual(identifiers, ["app/db-password", "payments/stripe-key"]);
    socket.destroy();
  });

  test("close() twice returns the same promise", async () => {
    const harness = await gatewayForTest();
    const first = harness.gateway.close();
    assert.equal(harness.gateway.close(), first);
    await first;
  });

  test("readiness reports a listening gateway", async () => {
    const harness = await gatewayForTest();
    const problems = await waitForValue(
      async () => harness.gateway.readinessProblems(),
      (list) => list.length === 0,
    );
    assert.deepEqual(problems, []);
  });

  test("start() rejects a port in use", async () => {
    const prefix = randomPrefix();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const address = blocker.address();
    assert.ok(address !== null);
    assert.ok(typeof address === "object");

    const gateway = new Gateway({
      configs: [
        {
          name: "busy",
          sources: [{ ...testSource(), port: address.port }],
          destinations: [],
        },
      ],
      redisUrl: TEST_REDIS_URL,
      prefix,
      logger: createLogger({ name: "gateway-test", level: "silent" }),
      registry: createMetricsRegistry({ processMetrics: false }),
    });
    try {
      await assert.rejects(gateway.start(), (error: unknown) => {
        assert.ok(error instanceof ListenError);
        assert.equal(error.code, "EADDRINUSE");
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${address.port}`));
        assert.match(error.message, /Config "busy" source 0/);
        return true;
      });
    } finally {
      await gateway.close();
      await deleteKeys(prefix);
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test("Redis down at start, then up", async () => {
    const redisPort = await freePort();
    const prefix = randomPrefix();
    const registry = createMetricsRegistry({ processMetrics: false });
    const gateway = new Gateway({
      configs: [{ name: "late-redis", sources: [testSource()], destinations: [] }],
      redisUrl: `redis://127.0.0.1:${redisPort}`,
      prefix,
      logger: createLogger({ name: "gateway-test", level: "silent" }),
      registry,
      enqueuer: { retryBaseDelayMs: 20, retryMaxDelayMs: 200, closeTimeoutMs: 1000 },
    });
    await gateway.start();
    const port = gateway.addresses()[0]?.port ?? 0;
    await send(port, namedDocument("before/redis"));
    await sleep(300);
    assert.match(
      gateway.readinessProblems().join("; "),
      /Redis is not reachable \(connection status: /,
    );

    const redis = await startPrivateRedis({ port: redisPort });
    try {
      await send(port, namedDocument("after/redis"));
      const queue = new Queue("rotation-events", {
        connection: { host: "127.0.0.1", port: redisPort },
        prefix,
      });
      const count = await waitForValue(
        () => queue.count(),
        (value) => value >= 2,
        10_000,
      );
      const jobs = await queue.getJobs(["waiting"]);
      await queue.close();
      assert.equal(count, 2);
      assert.deepEqual(jobs.map((job) => job.data.identifier).sort(), [
        "after/redis",
        "before/redis",
      ]);
      assert.deepEqual(gateway.readinessProblems(), []);
    } finally {
      await gateway.close();
      await redis.close();
    }
  });

  test("Redis unreachable: close() reports the loss", async () => {
    const unused = createServer();
    await new Promise<void>((resolve) => unused.listen(0, "127.0.0.1", resolve));
    const address = unused.address();
    assert.ok(address !== null);
    assert.ok(typeof address === "object");
    await new Promise((resolve) => unused.close(resolve));

    const registry = createMetricsRegistry({ processMetrics: false });
    const gateway = new Gateway({
      configs: [{ name: "no-redis", sources: [testSource()], destinations: [] }],
      redisUrl: `redis://127.0.0.1:${address.port}`,
      prefix: randomPrefix(),
      logger: createLogger({ name: "gateway-test", level: "silent" }),
      registry,
      enqueuer: { closeTimeoutMs: 300, retryBaseDelayMs: 20 },
    });
    await gateway.start();
    const port = gateway.addresses()[0]?.port ?? 0;
    await send(port, namedDocument("while/redis-down"));

    const accepted = await waitForValue(
      () =>
        readMetricValue(registry, GatewayMetricName.Messages, {
          config: "no-redis",
          source: "0",
          result: "accepted",
        }),
      (count) => count >= 1,
    );
    assert.equal(accepted, 1);
    assert.match(
      gateway.readinessProblems().join("; "),
      /Redis is not reachable \(connection status: /,
    );

    const started = Date.now();
    await assert.rejects(gateway.close(), (error: unknown) => {
      assert.ok(error instanceof AggregateError);
      assert.match(String(error.errors[0]), /1 identifier\(s\) were not stored in Redis/);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 3000, `close() took ${elapsed} ms`);
  });

  test("addresses() before start() throws", async () => {
    const prefix = randomPrefix();
    const gateway = new Gateway({
      configs: [{ name: "idle", sources: [testSource()], destinations: [] }],
      redisUrl: TEST_REDIS_URL,
      prefix,
      logger: createLogger({ name: "gateway-test", level: "silent" }),
      registry: createMetricsRegistry({ processMetrics: false }),
    });
    try {
      assert.throws(() => gateway.addresses(), /not listening; call start\(\) first/);
    } finally {
      await gateway.close();
      await deleteKeys(prefix);
    }
  });
});
