import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { Registry } from "prom-client";

import { loadConfigFile } from "../../../shared/config-loader.js";
import type { ReloaderConfig } from "../../../shared/config-schema.js";
import {
  PATCH_QUEUE,
  ROTATION_QUEUE,
  type PatchRequest,
  type RotationEvent,
} from "../../../shared/queue-contract.js";
import { createRedisConnection, DEFAULT_REDIS_URL } from "../../../shared/redis-connection.js";
import { ReconcileWorker, type ReconcileWorkerOptions } from "../../../worker/reconcile-worker.js";
import { startKubeApiEmulator, type KubeApiEmulator } from "../../kube-api/emulator.js";
import { fixturePath } from "../../support/fixtures.js";
import { createMemoryLogger, type MemoryLogger } from "./memory-logger.js";

/** Patch job options for tests: retries after 20, 40, 80 … ms, so retry tests finish quickly. */
export const FAST_PATCH_JOB_OPTIONS: JobsOptions = {
  attempts: 4,
  backoff: { type: "exponential", delay: 20, jitter: 0 },
};

/** A worker wired to a Kubernetes API emulator loaded with cluster.yaml and to Redis under a random prefix. */
export interface WorkerHarness {
  readonly emulator: KubeApiEmulator;
  readonly worker: ReconcileWorker;
  readonly registry: Registry;
  readonly memory: MemoryLogger;
  readonly prefix: string;
  readonly rotationQueue: Queue<RotationEvent>;
  readonly patchQueue: Queue<PatchRequest>;
  /** Adds a rotation event for `identifier` and returns the rotation job id. */
  rotate(identifier: string, configName?: string): Promise<string>;
  /** Returns the value of a metric sample, 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Stops everything and deletes every Redis key under the prefix. */
  close(): Promise<void>;
}

/** Options of {@link startWorkerHarness}. */
export interface WorkerHarnessOptions {
  /** Config fixture file; default `config-default.yaml`. */
  readonly configFile?: string;
  /** Calls `worker.start()` and waits for it; default true. */
  readonly start?: boolean;
  /** Runs after the emulator starts and before the worker is created, for example to add faults. */
  readonly beforeWorker?: (emulator: KubeApiEmulator) => void;
  readonly workerOptions?: Partial<ReconcileWorkerOptions>;
}

/** Starts the emulator, Redis queues and a {@link ReconcileWorker}. */
export async function startWorkerHarness(
  options: WorkerHarnessOptions = {},
): Promise<WorkerHarness> {
  const configs: ReloaderConfig[] = await loadConfigFile(
    fixturePath(options.configFile ?? "config-default.yaml"),
  );
  const emulator = await startKubeApiEmulator({ load: [fixturePath("cluster.yaml")] });
  options.beforeWorker?.(emulator);

  const prefix = `test-worker-${randomUUID()}`;
  const connection = createRedisConnection(DEFAULT_REDIS_URL);
  const registry = new Registry();
  const memory = createMemoryLogger();
  const worker = new ReconcileWorker({
    configs,
    kubeConfig: emulator.kubeConfig(),
    connection,
    prefix,
    logger: memory.logger,
    registry,
    patchJobOptions: FAST_PATCH_JOB_OPTIONS,
    informerRestartInitialDelayMs: 20,
    informerRestartMaxDelayMs: 200,
    syncTimeoutMs: 10_000,
    ...options.workerOptions,
  });
  const rotationQueue = new Queue<RotationEvent>(ROTATION_QUEUE, { connection, prefix });
  const patchQueue = new Queue<PatchRequest>(PATCH_QUEUE, { connection, prefix });

  const harness: WorkerHarness = {
    emulator,
    worker,
    registry,
    memory,
    prefix,
    rotationQueue,
    patchQueue,
    rotate: async (identifier, configName = configs[0]?.name ?? "") => {
      const event: RotationEvent = {
        configName,
        sourceType: "TCPSocket",
        sourceIndex: 0,
        identifier,
        receivedAt: Date.now(),
      };
      const job = await rotationQueue.add("rotation", event);
      return job.id ?? "";
    },
    metric: (name, labels) => readMetric(registry, name, labels),
    close: () => closeHarness(worker, [rotationQueue, patchQueue], connection, prefix, emulator),
  };

  if (options.start ?? true) {
    await worker.start();
  }

  return harness;
}

async function closeHarness(
  worker: ReconcileWorker,
  queues: readonly Queue[],
  connection: Redis,
  prefix: string,
  emulator: KubeApiEmulator,
): Promise<void> {
  await worker.close();
  for (const queue of queues) {
    await queue.close();
  }

  await deleteKeys(connection, `${prefix}:*`);
  await connection.quit();
  await emulator.close();
}

async function deleteKeys(connection: Redis, pattern: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await connection.scan(cursor, "MATCH", pattern, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) {
      await connection.del(...keys);
    }
  } while (cursor !== "0");
}

async function readMetric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) {
    throw new Error(`metric ${name} is not registered`);
  }

  const { values } = await metric.get();
  const sample = values.find((value) =>
    Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  );
  return sample?.value ?? 0;
}

/**
 * Polls `check` every 20 ms until it returns a value other than `undefined` or `false`, and
 * returns that value.
 *
 * @throws Error naming `description` when `timeoutMs` passes first.
 */
export async function waitFor<T>(
  description: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await sleep(20);
  }
}
