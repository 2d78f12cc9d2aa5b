import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { freePort, startPrivateRedis, type PrivateRedis } from "../../launcher/private-redis.js";
import { startTierWhenReady, type TierProcess } from "../../launcher/tier-process.js";
import { GatewayMetricName } from "../../shared/metrics.js";
import { ROTATION_QUEUE } from "../../shared/queue-contract.js";
import { loopbackTcpConfig } from "../support/fixtures.js";
import { metricValue } from "../support/pipeline.js";
import { connectTo, finish, randomPrefix } from "../gateway/gateway-harness.js";

/** Lines the sender writes while Redis is paused. */
const LINE_COUNT = 20_000;

/** Lines per `write()` call; each call is timed. */
const LINES_PER_WRITE = 10;

/** Padding that makes each line about as long as a Vault audit entry (4-8 KiB). */
const PADDING = "x".repeat(4096);

function line(index: number): string {
  const document = { "0": { data: { ObjectName: `vault/secret-${index}` } }, padding: PADDING };
  return `${JSON.stringify(document)}\n`;
}

/** A gateway process on loopback with its own queue prefix, and handles to inspect it. */
interface PausedGateway {
  readonly gateway: TierProcess;
  readonly port: number;
  readonly admin: Redis;
  readonly queue: Queue;
  /** Reads one unlabelled metric from the gateway's /metrics. */
  metric(name: string): Promise<number>;
  http(path: string): Promise<Response>;
  /** Removes the queue's keys and closes the Redis connection. */
  cleanup(): Promise<void>;
}

/**
 * Starts a gateway process on `redisUrl` with `env` added. The message-rate limit is off
 * because the senders write far above its default, which would pause them.
 */
async function startGateway(
  redisUrl: string,
  directory: string,
  name: string,
  env: Record<string, string> = {},
): Promise<PausedGateway> {
  const prefix = randomPrefix();
  const port = await freePort();
  const httpPort = await freePort();
  const configFile = join(directory, `${name}.yaml`);
  await writeFile(configFile, loopbackTcpConfig(name, port));
  const gateway = await startTierWhenReady({
    entry: "gateway/main.js",
    args: ["--config", configFile, "--http-port", String(httpPort), "--http-host", "127.0.0.1"],
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      MAX_MESSAGES_PER_SECOND: "0",
      ...env,
    },
  });

  const admin = new Redis(redisUrl);
  const queue = new Queue(ROTATION_QUEUE, { connection: admin, prefix });
  const http = (path: string) => fetch(`http://127.0.0.1:${httpPort}${path}`);
  return {
    gateway,
    port,
    admin,
    queue,
    http,
    metric: async (name) => metricValue(await (await http("/metrics")).text(), name, {}),
    cleanup: async () => {
      await queue.obliterate({ force: true });
      await queue.close();
      admin.disconnect();
    },
  };
}

describe("gateway process while Redis is paused", () => {
  let redis: PrivateRedis;
  let directory: string;
  before(async () => {
    redis = await startPrivateRedis();
    directory = await mkdtemp(join(tmpdir(), "redis-outage-"));
  });
  after(async () => {
    await redis.close();
    await rm(directory, { recursive: true, force: true });
  });

  test("sender never stalls and nothing is lost", { timeout: 120_000 }, async (context) => {
    const { gateway, port, admin, queue, metric, cleanup } = await startGateway(
      redis.url,
      directory,
      "paused",
    );

    try {
      await admin.call("CLIENT", "PAUSE", "5000", "WRITE");
      const sendStarted = performance.now();
      const socket = await connectTo(port);
      let maxWriteMs = 0;
      for (let start = 0; start < LINE_COUNT; start += LINES_PER_WRITE) {
        let chunk = "";
        for (let index = start; index < start + LINES_PER_WRITE; index++) chunk += line(index);
        const began = performance.now();
        await new Promise<void>((resolve, reject) =>
          socket.write(chunk, (error) => (error ? reject(error) : resolve())),
        );
        maxWriteMs = Math.max(maxWriteMs, performance.now() - began);
      }
      await finish(socket);
      context.diagnostic(`sent in ${(performance.now() - sendStarted).toFixed(0)} ms`);
      const pending = await metric(GatewayMetricName.PendingIdentifiers);
      context.diagnostic(`longest write ${maxWriteMs.toFixed(1)} ms, ${pending} pending`);
      assert.ok(maxWriteMs <= 100, `a write blocked for ${maxWriteMs.toFixed(1)} ms`);
      assert.ok(pending > 0, "identifiers wait in memory while Redis is paused");

      const deadline = Date.now() + 60_000;
      while ((await queue.count()) < LINE_COUNT && Date.now() < deadline) await sleep(100);
      assert.equal(await queue.count(), LINE_COUNT, "every distinct identifier was stored");
      assert.equal(await metric(GatewayMetricName.IdentifiersShed), 0);
    } finally {
      assert.equal(await gateway.stop(), 0);
      await cleanup();
    }
  });

  test("identifiers past the bound are shed", { timeout: 120_000 }, async (context) => {
    const { gateway, port, queue, http, metric, cleanup } = await startGateway(
      redis.url,
      directory,
      "bound",
      { MAX_PENDING_IDENTIFIERS: "1000", COALESCE_WINDOW_MS: "60000" },
    );

    try {
      const socket = await connectTo(port);
      let documents = "";
      for (let index = 0; index < 5000; index++) documents += line(index);
      socket.write(documents);
      await finish(socket);

      const shed = await metric(GatewayMetricName.IdentifiersShed);
      const pending = await metric(GatewayMetricName.PendingIdentifiers);
      const readiness = await http("/readyz");
      const body = (await readiness.json()) as { reasons?: string[] };
      context.diagnostic(`${pending} pending, ${shed} shed, /readyz ${readiness.status}`);
      assert.equal(pending, 1000);
      assert.equal(shed, 4000);
      assert.equal(readiness.status, 503);
      assert.match(body.reasons?.join("; ") ?? "", /maxPendingIdentifiers/);

      assert.equal(await gateway.stop(), 0, "SIGTERM stores the pending identifiers");
      assert.equal(await queue.count(), 1000);
    } finally {
      await gateway.stop();
      await cleanup();
    }
  });
});
