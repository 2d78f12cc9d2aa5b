import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { parseDocument } from "yaml";
import { freePort } from "../../launcher/private-redis.js";
import { watchPatches, type PatchSighting } from "../../launcher/patch-watch.js";
import { startTierWhenReady, type TierProcess } from "../../launcher/tier-process.js";
import { PATCH_QUEUE, ROTATION_QUEUE } from "../../shared/queue-contract.js";
import { startKubeApiEmulator, type KubeApiEmulator } from "../kube-api/emulator.js";
import { fixturePath } from "./fixtures.js";

/** Redis the end-to-end tests use; each run has its own key prefix. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A running pipeline: emulator in this process, gateway and worker as child processes. */
export interface Pipeline {
  readonly emulator: KubeApiEmulator;
  readonly gateway: TierProcess;
  readonly worker: TierProcess;
  readonly tcpPort: number;
  readonly gatewayHttpPort: number;
  readonly prefix: string;
  readonly sightings: PatchSighting[];
  /** Lines both tiers wrote, for failure messages. */
  readonly output: string[];
  /** Sends a file over a new TCP connection and waits until the gateway closes it. */
  send(data: Buffer): Promise<void>;
  /** Waits until `rotations` rotation jobs and `patches` patch jobs have completed. */
  waitForCompleted(rotations: number, patches: number, timeoutMs?: number): Promise<void>;
  /** Fetches the gateway's Prometheus text. */
  gatewayMetrics(): Promise<string>;
  /** Stops both tiers and returns their exit codes, then removes every key and file. */
  stop(): Promise<{ gateway: number | string; worker: number | string }>;
}

/** Field of each TCP source type's settings, as the Config schema names it. */
const TCP_SETTINGS_FIELDS: Record<string, string> = {
  TCPSocket: "tcpSocket",
  HashicorpVault: "hashicorpVault",
};

/**
 * Rewrites a Config fixture to listen on `port` at 127.0.0.1, so the test stays on loopback
 * and never collides with another test's port. TCPSocket and HashicorpVault sources get
 * `host` and `port`, Webhook sources get `address`, and other source types are left as they
 * are.
 */
async function rewriteConfig(name: string, port: number, file: string): Promise<void> {
  const document = parseDocument(await readFile(fixturePath(name), "utf8"));
  const sources = document.getIn(["spec", "notificationSources"]) as { items: unknown[] };
  sources.items.forEach((_item, index) => {
    const type = String(document.getIn(["spec", "notificationSources", index, "type"]));
    if (type === "Webhook") {
      document.setIn(
        ["spec", "notificationSources", index, "webhook", "address"],
        `127.0.0.1:${port}`,
      );
      return;
    }
    const field = TCP_SETTINGS_FIELDS[type];
    if (field === undefined) return;
    document.setIn(["spec", "notificationSources", index, field, "host"], "127.0.0.1");
    document.setIn(["spec", "notificationSources", index, field, "port"], port);
  });
  await writeFile(file, document.toString());
}

function startTestTier(
  entry: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  output: string[],
): Promise<TierProcess> {
  return startTierWhenReady({
    entry,
    args,
    env,
    onLine: (line) => output.push(`${entry}: ${line}`),
    onErrorLine: (line) => output.push(`${entry} stderr: ${line}`),
  }).catch((error: Error) => {
    throw new Error(`${error.message}:\n${output.join("\n")}`);
  });
}

/** Starts the emulator with the example cluster, then a worker and a gateway for `configName`. */
export async function startPipeline(configName: string): Promise<Pipeline> {
  const directory = await mkdtemp(join(tmpdir(), "pipeline-"));
  const emulator = await startKubeApiEmulator({ load: [fixturePath("cluster.yaml")] });
  const kubeconfig = join(directory, "kubeconfig");
  await emulator.writeKubeconfig(kubeconfig);

  const tcpPort = await freePort();
  const gatewayHttpPort = await freePort();
  const configFile = join(directory, "config.yaml");
  await rewriteConfig(configName, tcpPort, configFile);

  const prefix = `e2e-${randomBytes(6).toString("hex")}`;
  const env = {
    ...process.env,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    KUBECONFIG: kubeconfig,
  };
  const output: string[] = [];
  const sightings: PatchSighting[] = [];
  const unwatch = watchPatches(emulator, (sighting) => sightings.push(sighting));

  const started = await Promise.allSettled([
    startTestTier("worker/main.js", ["--config", configFile, "--http-port", "0"], env, output),
    startTestTier(
      "gateway/main.js",
      ["--config", configFile, "--http-port", String(gatewayHttpPort), "--http-host", "127.0.0.1"],
      env,
      output,
    ),
  ]);
  const [worker, gateway] = started.map((result) =>
    result.status === "fulfilled" ? result.value : undefined,
  );
  if (worker === undefined || gateway === undefined) {
    await Promise.all([worker?.stop(), gateway?.stop(), emulator.close()]);
    const failure = started.find((result) => result.status === "rejected");
    throw (failure as PromiseRejectedResult).reason;
  }

  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queues = [ROTATION_QUEUE, PATCH_QUEUE].map(
    (name) => new Queue(name, { connection: redis, prefix }),
  );

  const waitForCompleted = async (rotations: number, patches: number, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let counts: number[] = [];
    while (Date.now() < deadline) {
      counts = await Promise.all(
        queues.map(async (queue) => (await queue.getJobCounts("completed")).completed ?? 0),
      );
      if (counts[0] === rotations && counts[1] === patches) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `expected ${rotations} rotation and ${patches} patch jobs completed, got ${counts.join(" and ")}:\n` +
        output.slice(-40).join("\n"),
    );
  };

  const stop = async () => {
    const codes = { gateway: await gateway.stop(), worker: await worker.stop() };
    unwatch();
    await Promise.all(
      queues.map((queue) => queue.obliterate({ force: true }).then(() => queue.close())),
    );
    redis.disconnect();
    await emulator.close();
    await rm(directory, { recursive: true, force: true });
    return codes;
  };

  return {
    emulator,
    gateway: gateway,
    worker: worker,
    tcpPort,
    gatewayHttpPort,
    prefix,
    sightings,
    output,
    send: (data) => sendOverTcp(tcpPort, data),
    waitForCompleted,
    gatewayMetrics: async () => (await fetch(`http://127.0.0.1:${gatewayHttpPort}/metrics`)).text(),
    stop,
  };
}

/** Writes `data` on a new connection, half-closes it and waits for the server to close too. */
export async function sendOverTcp(port: number, data: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.end(data));
    socket.once("close", () => resolve());
    socket.once("error", reject);
    socket.resume();
  });
}

/** Reads a counter or gauge value from Prometheus text, matching every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([key, value]) =>
      line.includes(`${key}="${value}"`),
    );
    if (matches) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}
