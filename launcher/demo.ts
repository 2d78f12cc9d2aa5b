import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import { PATCH_QUEUE, ROTATION_QUEUE } from "../shared/queue-contract.js";
import { createRedisConnection } from "../shared/redis-connection.js";
import { startKubeApiEmulator, type KubeApiEmulator } from "../test/kube-api/emulator.js";
import { fixturePath } from "../test/support/fixtures.js";
import { freePort, startPrivateRedis, type PrivateRedis } from "./private-redis.js";
import { startTierWhenReady, type TierProcess } from "./tier-process.js";
import { watchPatches, type PatchSighting } from "./patch-watch.js";

const HELP = `Usage: npm run demo -- [--once] [--port PORT]

Runs the whole pipeline on this machine: a private redis-server (unless REDIS_URL is set),
a Kubernetes API emulator loaded with test/fixtures/cluster.yaml, the gateway and the worker.

  --once        send the example payloads of test/fixtures/, print the patched
                ExternalSecrets and exit 0 (exit 1 when nothing was patched)
  --port PORT   TCP port of the gateway [default: 8000, or a free port when 8000 is taken]
  --help        print this help and exit`;

/** Example payloads sent by `--once`, in order. */
const EXAMPLE_PAYLOADS = ["one.ndjson", "pretty.json", "mixed-stream.bin"];

/** How long `--once` waits for the pipeline to go quiet, in ms. */
const ONCE_TIMEOUT_MS = 60_000;

/** A running demo and everything that `stop()` must close. */
interface Demo {
  readonly port: number;
  readonly prefix: string;
  readonly redisUrl: string;
  readonly directory: string;
  readonly emulator: KubeApiEmulator;
  readonly tiers: TierProcess[];
  readonly sightings: PatchSighting[];
  /** Stops every process; removes the log folder unless `keepLogs`. */
  stop(options: { keepLogs: boolean }): Promise<void>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { once: { type: "boolean" }, port: { type: "string" }, help: { type: "boolean" } },
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return;
  }

  // A closed stdout (the demo piped into `head`, say) must not crash the demo and leave
  // its redis-server and tiers behind: the interactive demo stops, `--once` finishes.
  let onStdoutClosed = (): void => undefined;
  process.stdout.on("error", () => onStdoutClosed());

  const demo = await startDemo(await choosePort(values.port));
  if (values.once === true) {
    const code = await runOnce(demo);
    await demo.stop({ keepLogs: code !== 0 });
    if (code !== 0) process.stderr.write(`the logs are kept in ${demo.directory}\n`);
    process.exitCode = code;
    return;
  }

  printTryIt(demo);
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    if (reason !== "EPIPE") process.stdout.write(`stopping the demo (${reason})\n`);
    void demo.stop({ keepLogs: false }).then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => stop("SIGHUP"));
  onStdoutClosed = () => stop("EPIPE");
}

async function choosePort(requested: string | undefined): Promise<number> {
  if (requested !== undefined) {
    if (!/^\d+$/.test(requested) || Number(requested) < 1 || Number(requested) > 65535) {
      throw new Error(
        `--port must be an integer from 1 to 65535, got ${JSON.stringify(requested)}`,
      );
    }
    return Number(requested);
  }
  return (await isPortFree(8000)) ? 8000 : freePort();
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

async function startDemo(port: number): Promise<Demo> {
  const directory = await mkdtemp(join(tmpdir(), "rotation-demo-"));
  const redis: PrivateRedis | undefined =
    process.env.REDIS_URL === undefined ? await startPrivateRedis() : undefined;
  const redisUrl = redis?.url ?? (process.env.REDIS_URL as string);
  const prefix = `demo-${randomBytes(4).toString("hex")}`;

  const emulator = await startKubeApiEmulator({ load: [fixturePath("cluster.yaml")] });
  const kubeconfig = join(directory, "kubeconfig");
  await emulator.writeKubeconfig(kubeconfig);
  const configFile = join(directory, "config.yaml");
  await writeFile(configFile, demoConfig(port));

  process.stdout.write(
    `redis: ${redis ? `private redis-server at ${redisUrl}` : redisUrl} (queue prefix ${prefix})\n` +
      `kubernetes: API emulator at ${emulator.url} with test/fixtures/cluster.yaml\n` +
      `logs: ${directory}/gateway.log and worker.log (removed when the demo stops)\n`,
  );

  const sightings: PatchSighting[] = [];
  const unwatch = watchPatches(emulator, (sighting) => {
    sightings.push(sighting);
    process.stdout.write(
      `patched ExternalSecret ${sighting.namespace}/${sighting.name} ` +
        `(trigger: ${sighting.triggerSource}, last-rotated: ${sighting.lastRotated})\n`,
    );
  });

  const env = { ...process.env, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, KUBECONFIG: kubeconfig };
  const started = await Promise.allSettled(
    ["gateway", "worker"].map((tier) => startDemoTier(tier, configFile, env, directory)),
  );
  const tiers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));

  const stop = async ({ keepLogs }: { keepLogs: boolean }): Promise<void> => {
    await Promise.allSettled(tiers.map((tier) => tier.stop()));
    unwatch();
    await emulator.close();
    await redis?.close();
    if (!keepLogs) await rm(directory, { recursive: true, force: true });
  };

  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    await stop({ keepLogs: true });
    throw new Error(`${(failure.reason as Error).message}; the logs are kept in ${directory}`);
  }
  return { port, prefix, redisUrl, directory, emulator, tiers, sightings, stop };
}

function demoConfig(port: number): string {
  return `apiVersion: reloader.external-secrets.io/v1alpha1
kind: Config
metadata:
  name: demo
spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket:
        host: 127.0.0.1
        port: ${port}
        identifierPathOnPayload: "0.data.ObjectName"
  destinationsToWatch:
    - type: ExternalSecret
      externalSecret:
        labelSelectors:
          matchLabels: {}
`;
}

/** Starts one tier, logging to `<directory>/<tier>.log`, and resolves once it is ready. */
async function startDemoTier(
  tier: string,
  configFile: string,
  env: NodeJS.ProcessEnv,
  directory: string,
): Promise<TierProcess> {
  const log = createWriteStream(join(directory, `${tier}.log`));
  try {
    const child = await startTierWhenReady({
      entry: `${tier}/main.js`,
      args: ["--config", configFile, "--http-port", "0"],
      env,
      onLine: (line) => {
        log.write(`${line}\n`);
        if (/"level":(50|60)/.test(line)) process.stderr.write(`${tier}: ${line}\n`);
      },
      onErrorLine: (line) => process.stderr.write(`${tier}: ${line}\n`),
    });
    void child.exited.then(() => log.end());
    return child;
  } catch (error) {
    log.end();
    throw error;
  }
}

function printTryIt(demo: Demo): void {
  const send = `printf '%s\\n' '{"0":{"data":{"ObjectName":"app/db-password"}}}'`;
  process.stdout.write(
    `\ngateway listening on 127.0.0.1:${demo.port}. Try:\n\n` +
      `  ${send} | nc -N 127.0.0.1 ${demo.port}\n\n` +
      `or, where nc is missing:\n\n` +
      `  ${send} | socat - TCP:127.0.0.1:${demo.port}\n\n` +
      `Each patched ExternalSecret is printed below. Ctrl-C stops the demo.\n\n`,
  );
}

/** Sends the example payloads, waits until the pipeline is quiet and prints what was patched. */
async function runOnce(demo: Demo): Promise<number> {
  for (const name of EXAMPLE_PAYLOADS) {
    process.stdout.write(`sending test/fixtures/${name} to 127.0.0.1:${demo.port}\n`);
    await sendFile(fixturePath(name), demo.port);
  }

  await waitUntilQuiet(demo);
  const targets = [...new Set(demo.sightings.map((s) => `${s.namespace}/${s.name}`))].sort();
  process.stdout.write(`\npatched ${targets.length} ExternalSecret(s):\n`);
  for (const target of targets) process.stdout.write(`  ${target}\n`);

  if (targets.length === 0) {
    process.stderr.write(`nothing was patched; see the logs in ${demo.directory}\n`);
    return 1;
  }
  return 0;
}

async function sendFile(file: string, port: number): Promise<void> {
  const data = await readFile(file);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.end(data));
    socket.once("close", () => resolve());
    socket.once("error", reject);
    socket.resume();
  });
}

/** Resolves once both queues are idle and no patch has been seen for a second. */
async function waitUntilQuiet(demo: Demo): Promise<void> {
  const connection = createRedisConnection(demo.redisUrl);
  const queues = [ROTATION_QUEUE, PATCH_QUEUE].map(
    (name) => new Queue(name, { connection, prefix: demo.prefix }),
  );
  const deadline = Date.now() + ONCE_TIMEOUT_MS;
  let quietSince = Date.now();
  let seen = demo.sightings.length;

  try {
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const counts = await Promise.all(
        queues.map((queue) => queue.getJobCounts("waiting", "active", "delayed", "prioritized")),
      );
      const busy = counts.some((count) => Object.values(count).some((value) => value > 0));
      if (busy || demo.sightings.length !== seen) {
        quietSince = Date.now();
        seen = demo.sightings.length;
      } else if (Date.now() - quietSince >= 1000) return;
    }
    process.stderr.write(`the pipeline was still busy after ${ONCE_TIMEOUT_MS} ms\n`);
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
    connection.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message}\n`);
  process.exit(1);
});
