import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { watchPatches } from "../launcher/patch-watch.js";
import { freePort, startPrivateRedis, type PrivateRedis } from "../launcher/private-redis.js";
import { startTierWhenReady, type TierProcess } from "../launcher/tier-process.js";
import { PATCH_QUEUE, ROTATION_QUEUE } from "../shared/queue-contract.js";
import { createRedisConnection } from "../shared/redis-connection.js";
import { startKubeApiEmulator } from "../test/kube-api/emulator.js";
import { fixturePath, loopbackTcpConfig } from "../test/support/fixtures.js";

/**
 * `npm run bench`: measures the gateway's ingest rate and the end-to-end latency from a
 * document on the socket to the patched ExternalSecret, with real processes on loopback.
 * Every run is bounded in count and time and stops by itself.
 */

/** Documents written on one connection for the ingest measurement. */
const INGEST_DOCUMENTS = 20_000;

/** Webhook requests for the HTTP measurement, and the connections they share. */
const WEBHOOK_REQUESTS = 2000;
const WEBHOOK_CONNECTIONS = 16;

/** Events sent one at a time for the latency measurement. */
const LATENCY_EVENTS = 200;

/** Upper bound of each phase, in ms. */
const PHASE_TIMEOUT_MS = 120_000;

function startReady(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<TierProcess> {
  return startTierWhenReady({
    entry,
    args,
    env,
    onErrorLine: (line) => process.stderr.write(`${entry}: ${line}\n`),
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${PHASE_TIMEOUT_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function write(port: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.end(data));
    socket.once("close", () => resolve());
    socket.once("error", reject);
    socket.resume();
  });
}

/** POSTs one document and resolves with the status once the response has been read. */
function postDocument(agent: Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, path: "/webhook", method: "POST", agent },
      (response) => {
        response.resume();
        response.once("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.once("error", reject);
    request.end(body);
  });
}

/**
 * Sends `WEBHOOK_REQUESTS` documents over `WEBHOOK_CONNECTIONS` keep-alive connections, one
 * request at a time on each, and returns each request's time to its 202 response.
 */
async function sendWebhookRequests(port: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: WEBHOOK_CONNECTIONS });
  const latencies: number[] = [];
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < WEBHOOK_REQUESTS) {
      const body = JSON.stringify({ 0: { data: { ObjectName: `bench/webhook-${next}` } } });
      next += 1;
      const sent = performance.now();
      const status = await postDocument(agent, port, body);
      if (status !== 202) throw new Error(`a Webhook request got ${status} instead of 202`);
      latencies.push(performance.now() - sent);
    }
  };
  try {
    await Promise.all(Array.from({ length: WEBHOOK_CONNECTIONS }, sender));
  } finally {
    agent.destroy();
  }
  return latencies;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

async function main(): Promise<void> {
  const redis: PrivateRedis | undefined =
    process.env.REDIS_URL === undefined ? await startPrivateRedis() : undefined;
  const redisUrl = redis?.url ?? (process.env.REDIS_URL as string);
  const directory = await mkdtemp(join(tmpdir(), "rotation-bench-"));
  const emulator = await startKubeApiEmulator({ load: [fixturePath("cluster.yaml")] });
  const prefix = `bench-${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  const webhookPort = await freePort();
  const kubeconfig = join(directory, "kubeconfig");
  await emulator.writeKubeconfig(kubeconfig);
  await writeFile(
    join(directory, "config.yaml"),
    [
      loopbackTcpConfig("bench", port),
      "---",
      "apiVersion: reloader.external-secrets.io/v1alpha1",
      "kind: Config",
      "metadata: {name: bench-webhook}",
      "spec:",
      "  notificationSources:",
      `    - {type: Webhook, webhook: {address: "127.0.0.1:${webhookPort}"}}`,
      "  destinationsToWatch:",
      "    - externalSecret: {}",
      "",
    ].join("\n"),
  );

  const env = { ...process.env, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, KUBECONFIG: kubeconfig };
  const args = ["--config", join(directory, "config.yaml"), "--http-port", "0"];
  // The per-client message-rate limit would cap ingest at its default of 1000/s.
  const gatewayArgs = [...args, "--max-messages-per-second", "0"];
  const connection = createRedisConnection(redisUrl);
  const rotations = new Queue(ROTATION_QUEUE, { connection, prefix });
  const patches = new Queue(PATCH_QUEUE, { connection, prefix });
  const tiers: TierProcess[] = [];

  try {
    process.stdout.write(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}\n`);
    process.stdout.write(`node ${process.version}, redis ${redis ? "private" : redisUrl}\n\n`);
    tiers.push(await startReady("gateway/main.js", gatewayArgs, env));

    // Phase 1: the gateway alone, so the rate is ingest into Redis, not patching.
    const lines: string[] = [];
    for (let i = 0; i < INGEST_DOCUMENTS; i += 1) {
      lines.push(JSON.stringify({ 0: { data: { ObjectName: `bench/secret-${i}` } } }));
    }
    const started = performance.now();
    await write(port, `${lines.join("\n")}\n`);
    const written = performance.now();
    await waitFor(
      async () => (await rotations.count()) >= INGEST_DOCUMENTS,
      "ingest jobs in Redis",
    );
    const stored = performance.now();
    const seconds = (stored - started) / 1000;
    process.stdout.write(
      `ingest: ${INGEST_DOCUMENTS} documents on one connection, written in ` +
        `${(written - started).toFixed(0)} ms, all jobs in Redis after ${(stored - started).toFixed(0)} ms ` +
        `(${Math.round(INGEST_DOCUMENTS / seconds)} documents/s)\n`,
    );
    await rotations.obliterate({ force: true });

    // Phase 2: the Webhook source alone; each 202 means the request's job is in Redis.
    const webhookStarted = performance.now();
    const webhookLatencies = (await sendWebhookRequests(webhookPort)).sort((a, b) => a - b);
    const webhookSeconds = (performance.now() - webhookStarted) / 1000;
    const webhookJobs = await rotations.count();
    if (webhookJobs < WEBHOOK_REQUESTS) {
      throw new Error(
        `${WEBHOOK_REQUESTS} Webhook requests got 202 but ${webhookJobs} jobs are in Redis`,
      );
    }
    process.stdout.write(
      `webhook: ${WEBHOOK_REQUESTS} requests on ${WEBHOOK_CONNECTIONS} keep-alive connections, ` +
        `${Math.round(WEBHOOK_REQUESTS / webhookSeconds)} requests/s, time to 202: ` +
        `p50 ${percentile(webhookLatencies, 0.5).toFixed(1)} ms, p99 ${percentile(webhookLatencies, 0.99).toFixed(1)} ms\n`,
    );
    await rotations.obliterate({ force: true });

    // Phase 3: one event at a time through both tiers, timed until the emulator stores the patch.
    tiers.push(await startReady("worker/main.js", args, env));
    const latencies: number[] = [];
    let patchedAt = 0;
    const unwatch = watchPatches(emulator, (sighting) => {
      if (sighting.namespace === "payments" && sighting.name === "stripe")
        patchedAt = performance.now();
    });
    for (let i = 0; i < LATENCY_EVENTS; i += 1) {
      patchedAt = 0;
      const sent = performance.now();
      await write(port, '{"0":{"data":{"ObjectName":"payments/stripe-key"}}}\n');
      await waitFor(async () => patchedAt > 0, "patch of payments/stripe");
      latencies.push(patchedAt - sent);
    }
    unwatch();
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `latency: ${LATENCY_EVENTS} events one at a time, document sent to ExternalSecret patched: ` +
        `p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, ` +
        `max ${percentile(latencies, 1).toFixed(1)} ms\n`,
    );
  } finally {
    await Promise.allSettled(tiers.map((tier) => tier.stop()));
    await Promise.allSettled([
      rotations.obliterate({ force: true }),
      patches.obliterate({ force: true }),
    ]);
    await rotations.close();
    await patches.close();
    connection.disconnect();
    await emulator.close();
    await redis?.close();
    await rm(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  process.exit(1);
});
