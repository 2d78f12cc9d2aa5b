import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { parseCidrs } from "../../gateway/cidr.js";
import { gatewaySecurityOptions } from "../../gateway/gateway-flags.js";
import { ClientRateLimits, clientKey, ConnectionLimits } from "../../gateway/client-limits.js";
import { TokenBucket } from "../../gateway/token-bucket.js";
import { UsageError } from "../../shared/errors.js";
import { GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import { fixturePath } from "../support/fixtures.js";
import {
  connectTo,
  finish,
  identifiersWhenStored,
  startTestGateway,
  TEST_CONFIG_NAME,
  send,
  testSource,
  testVaultSource,
  waitForValue,
  write,
  type TestGateway,
  type TestGatewaySettings,
} from "./gateway-harness.js";

const harnesses: TestGateway[] = [];
async function gatewayForTest(settings?: TestGatewaySettings): Promise<TestGateway> {
  const harness = await startTestGateway(settings);
  harnesses.push(harness);
  return harness;
}
after(async () => {
  await Promise.all(harnesses.map((harness) => harness.cleanup()));
});

function closedCount(harness: TestGateway, reason: string): Promise<number> {
  return readMetricValue(harness.registry, GatewayMetricName.ConnectionsClosed, {
    config: TEST_CONFIG_NAME,
    source: "0",
    reason,
  });
}

function namedDocument(identifier: string): string {
  return `${JSON.stringify({ "0": { data: { ObjectName: identifier } } })}\n`;
}

/** Connects to 127.0.0.1:`port` from `localAddress`, another loopback address. */
async function connectFrom(port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Resolves when the gateway has closed `socket`; errors such as ECONNRESET count as closed. */
function closedByPeer(socket: Socket): Promise<void> {
  socket.on("error", () => undefined);
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

describe("parseCidrs", () => {
  test("matches IPv4, IPv6 and mapped addresses", () => {
    const list = parseCidrs(["10.0.0.0/8", "fd00::/8", "192.0.2.7"]);
    assert.equal(list.check("10.1.2.3", "ipv4"), true);
    assert.equal(list.check("11.0.0.1", "ipv4"), false);
    assert.equal(list.check("::ffff:10.1.2.3", "ipv6"), true);
    assert.equal(list.check("fd12::1", "ipv6"), true);
    assert.equal(list.check("fe80::1", "ipv6"), false);
    assert.equal(list.check("192.0.2.7", "ipv4"), true);
    assert.equal(list.check("192.0.2.8", "ipv4"), false);
  });

  test("a list without networks is rejected", () => {
    assert.throws(
      () => gatewaySecurityOptions({ "allowed-cidrs": " , " }),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /names no network/);
        return true;
      },
    );
    assert.deepEqual(gatewaySecurityOptions({ "allowed-cidrs": "" }).allowedCidrs, []);
  });

  test("invalid values name the value", () => {
    for (const value of [
      "10.0.0.0/33",
      "fd00::/129",
      "example.com/8",
      "10.0.0.0/8/1",
      "10.0.0.0/",
    ]) {
      assert.throws(
        () => parseCidrs([value]),
        (error: unknown) =>
          error instanceof UsageError && error.message.includes(JSON.stringify(value)),
        value,
      );
    }
  });
});

describe("ConnectionLimits", () => {
  test("counts per client and in total", () => {
    const limits = new ConnectionLimits(3, 2);
    assert.equal(limits.acquire("10.0.0.1"), undefined);
    assert.equal(limits.acquire("::ffff:10.0.0.1"), undefined);
    assert.equal(limits.acquire("10.0.0.1"), "max_connections_per_client");
    assert.equal(limits.acquire("10.0.0.2"), undefined);
    assert.equal(limits.acquire("10.0.0.3"), "max_connections_global");
    limits.release("10.0.0.1");
    assert.equal(limits.connectionsFrom("10.0.0.1").count, 1);
    assert.equal(limits.acquire("10.0.0.3"), undefined);
    assert.equal(limits.openConnections, 3);
  });

  test("mapped IPv4 counts as IPv4", () => {
    assert.equal(clientKey("::ffff:192.0.2.1"), "192.0.2.1");
    assert.equal(clientKey("::1"), "::1");
  });
});

describe("TokenBucket", () => {
  test("allows the burst, then waits for the rate", () => {
    const bucket = new TokenBucket(100, 10, 0);
    for (let i = 0; i < 10; i++) assert.equal(bucket.take(0), true, `token ${i}`);
    assert.equal(bucket.take(0), false);
    assert.equal(bucket.msUntil(5, 0), 50);
    assert.equal(bucket.msUntil(50, 0), 100, "waits for at most the burst");
    assert.equal(bucket.take(10), true);
    assert.equal(bucket.take(10), false);
  });

  test("client buckets are shared and swept", () => {
    const limits = new ClientRateLimits({ messagesPerSecond: 100, burst: 10 });
    try {
      const bucket = limits.bucketFor("10.0.0.1");
      assert.equal(limits.bucketFor("::ffff:10.0.0.1"), bucket, "mapped IPv4 is the same client");
      assert.notEqual(limits.bucketFor("10.0.0.2"), bucket);

      bucket.take(0);
      limits.sweep(0);
      assert.equal(limits.trackedClients, 1, "only the full bucket of 10.0.0.2 is dropped");
      limits.sweep(1000);
      assert.equal(limits.trackedClients, 0);
    } finally {
      limits.close();
    }
  });

  test("charge goes into debt", () => {
    const bucket = new TokenBucket(100, 10, 0);
    assert.equal(bucket.take(0), true);
    bucket.charge(19, 0);
    assert.equal(bucket.take(0), false);
    assert.equal(bucket.msUntil(1, 0), 110, "10 tokens of debt and 1 to take");
    assert.equal(bucket.take(110), true);
  });
});

describe("Gateway network limits", () => {
  test("allowed CIDRs reject other addresses", async () => {
    const harness = await gatewayForTest({ gateway: { allowedCidrs: ["127.0.0.2/32"] } });

    const rejected = await connectFrom(harness.port, "127.0.0.1");
    await closedByPeer(rejected);
    assert.equal(await closedCount(harness, "address_not_allowed"), 1);

    const allowed = await connectFrom(harness.port, "127.0.0.2");
    await write(allowed, namedDocument("cidr/allowed"));
    await finish(allowed);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["cidr/allowed"]);
    assert.equal(await closedCount(harness, "address_not_allowed"), 1);
  });

  test("IPv6 loopback is matched by an IPv6 CIDR", async () => {
    const harness = await gatewayForTest({
      gateway: { allowedCidrs: ["::1/128"] },
      source: { ...testSource(), host: "::1" },
    });
    const allowed = connect({ host: "::1", port: harness.port });
    await new Promise<void>((resolve, reject) => {
      allowed.once("connect", resolve);
      allowed.once("error", reject);
    });
    await write(allowed, namedDocument("cidr/ipv6"));
    await finish(allowed);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["cidr/ipv6"]);
    assert.equal(await closedCount(harness, "address_not_allowed"), 0);
  });

  test("per-client limit closes extra connections", async () => {
    const harness = await gatewayForTest({ gateway: { maxConnectionsPerClient: 2 } });
    const first = await connectFrom(harness.port, "127.0.0.1");
    const second = await connectFrom(harness.port, "127.0.0.1");
    const third = await connectFrom(harness.port, "127.0.0.1");
    await closedByPeer(third);
    assert.equal(await closedCount(harness, "max_connections_per_client"), 1);

    const otherClient = await connectFrom(harness.port, "127.0.0.3");
    await write(otherClient, namedDocument("client/other"));
    await finish(otherClient);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["client/other"]);

    await finish(first);
    const again = await connectFrom(harness.port, "127.0.0.1");
    await write(again, namedDocument("client/again"));
    await finish(again);
    assert.deepEqual(await identifiersWhenStored(harness, 2), ["client/other", "client/again"]);
    assert.equal(await closedCount(harness, "max_connections_per_client"), 1);
    await finish(second);
  });

  test("global limit closes extra connections", async () => {
    const harness = await gatewayForTest({
      gateway: { maxConnections: 2, maxConnectionsPerClient: 10 },
    });
    const first = await connectFrom(harness.port, "127.0.0.1");
    const second = await connectFrom(harness.port, "127.0.0.2");
    const third = await connectFrom(harness.port, "127.0.0.3");
    await closedByPeer(third);
    assert.equal(await closedCount(harness, "max_connections_global"), 1);
    assert.equal(await closedCount(harness, "max_connections_per_client"), 0);
    await finish(first);
    await finish(second);
  });

  test("fast sender is throttled, nothing lost", async () => {
    const rate = 500;
    const burst = 100;
    const total = 600;
    const harness = await gatewayForTest({
      gateway: { maxMessagesPerSecond: rate, messageBurst: burst },
    });
    let text = "";
    for (let i = 0; i < total; i++) text += namedDocument(`rate/${i}`);

    const started = Date.now();
    const socket = await connectTo(harness.port);
    await write(socket, text);
    const enqueued = await waitForValue(harness.enqueued, (count) => count >= total, 10_000);
    const elapsedMs = Date.now() - started;
    await finish(socket);

    assert.equal(enqueued, total);
    const minimumMs = ((total - burst) / rate) * 1000;
    assert.ok(elapsedMs >= minimumMs * 0.9, `read in ${elapsedMs} ms, below ${minimumMs} ms`);
    const stored = await identifiersWhenStored(harness, total);
    assert.equal(new Set(stored).size, total);
    const throttled = await readMetricValue(
      harness.registry,
      GatewayMetricName.ConnectionsThrottled,
      { config: TEST_CONFIG_NAME, source: "0" },
    );
    assert.ok(throttled > 0, `throttle counter is ${throttled}`);
  });
});

describe("Gateway message-rate limit", () => {
  test("identifiers cost a token each", async () => {
    const rate = 500;
    const burst = 100;
    const harness = await gatewayForTest({
      identifierPath: "#.name",
      gateway: { maxMessagesPerSecond: rate, messageBurst: burst },
    });
    // Six documents of 100 identifiers: within the burst as documents, not as identifiers.
    let text = "";
    for (let document = 0; document < 6; document++) {
      const names = Array.from({ length: 100 }, (_, i) => ({ name: `weighted/${document}-${i}` }));
      text += `${JSON.stringify(names)}\n`;
    }

    const started = Date.now();
    const socket = await connectTo(harness.port);
    await write(socket, text);
    const enqueued = await waitForValue(harness.enqueued, (count) => count >= 600, 10_000);
    const elapsedMs = Date.now() - started;
    await finish(socket);

    assert.equal(enqueued, 600);
    const minimumMs = ((600 - burst) / rate) * 1000;
    assert.ok(elapsedMs >= minimumMs * 0.9, `read in ${elapsedMs} ms, below ${minimumMs} ms`);
  });

  test("connections of one client share the budget", async () => {
    const rate = 500;
    const burst = 100;
    const harness = await gatewayForTest({
      gateway: { maxMessagesPerSecond: rate, messageBurst: burst },
    });
    const documents = (tag: string) =>
      Array.from({ length: 300 }, (_, i) => namedDocument(`${tag}/${i}`)).join("");

    const started = Date.now();
    const first = await connectTo(harness.port);
    const second = await connectTo(harness.port);
    await Promise.all([write(first, documents("first")), write(second, documents("second"))]);
    const enqueued = await waitForValue(harness.enqueued, (count) => count >= 600, 10_000);
    const elapsedMs = Date.now() - started;
    await Promise.all([finish(first), finish(second)]);

    assert.equal(enqueued, 600);
    const minimumMs = ((600 - burst) / rate) * 1000;
    assert.ok(elapsedMs >= minimumMs * 0.9, `read in ${elapsedMs} ms, below ${minimumMs} ms`);
  });

  test("too many identifiers reject the document", async () => {
    const harness = await gatewayForTest({
      source: { ...testSource({ identifierPath: "#.name" }), maxIdentifiersPerMessage: 3 },
    });
    const names = (count: number, tag: string) =>
      `${JSON.stringify(Array.from({ length: count }, (_, i) => ({ name: `${tag}/${i}` })))}\n`;
    await send(harness.port, names(4, "over") + names(3, "within"));

    const enqueued = await waitForValue(harness.enqueued, (count) => count >= 3);
    assert.equal(enqueued, 3);
    const rejected = await readMetricValue(harness.registry, GatewayMetricName.Messages, {
      config: TEST_CONFIG_NAME,
      source: "0",
      result: "too_many_identifiers",
    });
    assert.equal(rejected, 1);
    const stored = await identifiersWhenStored(harness, 3);
    assert.deepEqual([...stored].sort(), ["within/0", "within/1", "within/2"]);
  });

  test("Vault sources are not throttled", async () => {
    const harness = await gatewayForTest({
      source: testVaultSource(),
      gateway: { maxMessagesPerSecond: 1, messageBurst: 1 },
    });
    const started = Date.now();
    await send(harness.port, readFileSync(fixturePath("vault-audit-stream.ndjson")));
    const enqueued = await waitForValue(harness.enqueued, (count) => count >= 3);
    const elapsedMs = Date.now() - started;

    assert.equal(enqueued, 3);
    // Throttled, the 7 entries would take about 6 s at 1 per second.
    assert.ok(elapsedMs < 4500, `the 7 entries took ${elapsedMs} ms at 1 per second`);
    const throttled = await readMetricValue(
      harness.registry,
      GatewayMetricName.ConnectionsThrottled,
      { config: TEST_CONFIG_NAME, source: "0" },
    );
    assert.equal(throttled, 0);
  });
});

/** Runs the gateway with `flags` and the default Config; resolves when it exits. */
function runGateway(flags: string[]): Promise<{ code: number; stderr: string }> {
  const entry = new URL("../../gateway/main.js", import.meta.url).pathname;
  const args = [entry, ...flags, "--config", fixturePath("config-default.yaml")];
  return promisify(execFile)(process.execPath, args).then(
    () => ({ code: 0, stderr: "" }),
    (error: { code: number; stderr: string }) => error,
  );
}

describe("gateway command line", () => {
  test("lists the network and TLS flags", async () => {
    const entry = new URL("../../gateway/main.js", import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [entry, "--help"]);
    for (const text of [
      "--allowed-cidrs",
      "ALLOWED_CIDRS",
      "--max-connections ",
      "--max-connections-per-client",
      "--max-messages-per-second",
      "--max-messages-burst",
      "--tls-cert-file",
      "--tls-key-file",
      "--tls-ca-file",
      "[default: 4096]",
      "[default: 32]",
      "[default: 1000]",
    ]) {
      assert.ok(stdout.includes(text), `--help mentions ${text}`);
    }
  });

  test("invalid CIDR stops the start", async () => {
    const result = await runGateway(["--allowed-cidrs", "10.0.0.0/8,10.0.0.0/33"]);
    assert.notEqual(result.code, 0);
    assert.ok(result.stderr.includes('"10.0.0.0/33"'), `stderr: ${result.stderr}`);
  });

  test("TLS key without certificate stops the start", async () => {
    const result = await runGateway(["--tls-key-file", "/nonexistent/tls.key"]);
    assert.notEqual(result.code, 0);
    assert.ok(result.stderr.includes("--tls-cert-file"), `stderr: ${result.stderr}`);
  });
});

describe("Gateway log limits", () => {
  test("many short connections log within the source's limits", async () => {
    const lines: Array<{ msg: string }> = [];
    const logger = pino(
      { level: "info" },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const harness = await gatewayForTest({ logger });

    // Each connection sends one invalid document and closes.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 30 }, () => send(harness.port, "not json\n")));
    }
    await waitForValue(
      () => harness.messages("invalid_json"),
      (count) => count >= 300,
    );

    assert.equal(await harness.messages("invalid_json"), 300);
    const count = (message: string) => lines.filter((line) => line.msg === message).length;
    assert.equal(count("document rejected"), 10);
    assert.ok(count("connection closed") <= 100, `${count("connection closed")} close lines`);
    assert.ok(count("connection closed") >= 50, `${count("connection closed")} close lines`);
  });
});
