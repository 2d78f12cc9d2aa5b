import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import { runShutdownSteps } from "../shared/process-lifecycle.js";
import type { KubeConfig } from "@kubernetes/client-node";
import { Queue, Worker, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";

import type { ReloaderConfig } from "../shared/config-schema.js";
import type { Logger } from "../shared/logger.js";
import {
  DEFAULT_QUEUE_PREFIX,
  PATCH_QUEUE,
  ROTATION_QUEUE,
  type PatchRequest,
  type RotationEvent,
} from "../shared/queue-contract.js";
import {
  createRedisConnection,
  DEFAULT_REDIS_URL,
  reportRedisOutages,
} from "../shared/redis-connection.js";
import { AnnotationPatcher } from "./annotation-patcher.js";
import { ClusterCache } from "./cluster-cache.js";
import { assertValidDestinations } from "./destination-filter.js";
import { createPatchJobOptions, patchBackoffStrategy } from "./patch-backoff.js";
import { createPatchProcessor } from "./patch-processor.js";
import type { MonotonicClock } from "./rotation-clock.js";
import { createRotationProcessor } from "./rotation-processor.js";
import { createWorkerMetrics, type WorkerMetrics } from "./worker-metrics.js";

/** Rotation jobs processed at once when `rotationConcurrency` is unset. */
export const DEFAULT_ROTATION_CONCURRENCY = 4;

/** Patch jobs processed at once when `patchConcurrency` is unset. */
export const DEFAULT_PATCH_CONCURRENCY = 8;

/** Maximum wait for the informers' initial sync in ms when `syncTimeoutMs` is unset. */
export const DEFAULT_SYNC_TIMEOUT_MS = 120_000;

/** Options of a {@link ReconcileWorker}. */
export interface ReconcileWorkerOptions {
  /** Loaded Configs; rotation events name one of them in `configName`. */
  readonly configs: readonly ReloaderConfig[];
  /** Credentials and address of the Kubernetes API server. */
  readonly kubeConfig: KubeConfig;
  /** Redis connection for BullMQ, owned and closed by the caller. Takes precedence over `redisUrl`. */
  readonly connection?: Redis;
  /** Redis URL used when `connection` is absent; default `redis://127.0.0.1:6379`. The worker closes this connection. */
  readonly redisUrl?: string;
  /** BullMQ key prefix of both queues; default `reloader`. */
  readonly prefix?: string;
  readonly logger: Logger;
  /** Registry for the worker's metrics; it must not already contain them. */
  readonly registry: Registry;
  /** Rotation jobs processed in parallel; default {@link DEFAULT_ROTATION_CONCURRENCY}. */
  readonly rotationConcurrency?: number;
  /** Patch jobs processed in parallel; default {@link DEFAULT_PATCH_CONCURRENCY}. */
  readonly patchConcurrency?: number;
  /** Overrides applied on top of `PATCH_JOB_OPTIONS` (attempts, backoff delay in ms, jitter, retention). */
  readonly patchJobOptions?: JobsOptions;
  /** Maximum wait for the initial informer sync in ms; default {@link DEFAULT_SYNC_TIMEOUT_MS}. */
  readonly syncTimeoutMs?: number;
  /** Delay before the first informer restart after a watch error, in ms; default 500. */
  readonly informerRestartInitialDelayMs?: number;
  /** Maximum informer restart delay in ms; default 30000. */
  readonly informerRestartMaxDelayMs?: number;
  /** Time limit of one PATCH request in ms; default 10000. */
  readonly patchTimeoutMs?: number;
  /** `fieldManager` sent with each patch; default `secret-rotation-gateway`. */
  readonly fieldManager?: string;
  /** Source of `reloader/last-rotated` values; default a new `MonotonicClock`. Tests pass a fixed one. */
  readonly clock?: MonotonicClock;
}

/**
 * The worker tier: consumes rotation events and annotates every matching ExternalSecret.
 *
 * Two BullMQ workers run in one process. The rotation worker resolves each event to its
 * targets from an in-memory cluster cache and adds one patch job per target. The patch
 * worker sends one merge patch per job. {@link start} takes no job until the cache has
 * synced, so no event is resolved against a partial view of the cluster.
 */
export class ReconcileWorker {
  private readonly options: ReconcileWorkerOptions;
  private readonly logger: Logger;
  private readonly metrics: WorkerMetrics;
  private readonly cache: ClusterCache;
  private readonly patcher: AnnotationPatcher;
  private readonly ownedConnection: Redis | undefined;
  private readonly connection: Redis;
  private patchQueue: Queue<PatchRequest> | undefined;
  private rotationWorker: Worker<RotationEvent> | undefined;
  private patchWorker: Worker<PatchRequest> | undefined;
  private startPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly queueErrorLimiter = new LogRateLimiter(5, 60_000);

  /**
   * Validates the Configs' selectors, creates the metrics and, without `connection`, opens
   * a Redis connection. Informers and BullMQ workers start only in {@link start}.
   *
   * @throws DestinationFilterError when a Config contains an invalid label selector.
   */
  constructor(options: ReconcileWorkerOptions) {
    assertValidDestinations(options.configs);

    this.options = options;
    this.logger = options.logger;
    this.metrics = createWorkerMetrics(options.registry);
    this.metrics.cacheSynced.set(0);

    this.cache = new ClusterCache({
      kubeConfig: options.kubeConfig,
      logger: options.logger.child({ component: "cluster-cache" }),
      restartInitialDelayMs: options.informerRestartInitialDelayMs,
      restartMaxDelayMs: options.informerRestartMaxDelayMs,
      onSyncStateChange: (synced) => this.metrics.cacheSynced.set(synced ? 1 : 0),
    });

    this.patcher = new AnnotationPatcher({
      kubeConfig: options.kubeConfig,
      fieldManager: options.fieldManager,
      requestTimeoutMs: options.patchTimeoutMs,
      clock: options.clock,
    });

    this.ownedConnection =
      options.connection === undefined
        ? // Not lazyConnect: BullMQ 6.7 keeps the rejected promise of a lazy connection that
          // failed its first connect, and never recovers when Redis comes back.
          createRedisConnection(options.redisUrl ?? DEFAULT_REDIS_URL)
        : undefined;
    this.connection = options.connection ?? (this.ownedConnection as Redis);
    if (this.ownedConnection) reportRedisOutages(this.ownedConnection, this.logger);
  }

  /** Number of ExternalSecrets in the cache. */
  get externalSecretCount(): number {
    return this.cache.externalSecretCount;
  }

  /** Whether both informers are listed and watching; `false` before sync and while one restarts. */
  get isCacheSynced(): boolean {
    return this.cache.isSynced;
  }

  /**
   * Starts the informers, waits until they have synced, and only then starts the BullMQ
   * workers. Resolves when both workers are connected. Later calls return the same promise.
   *
   * @throws Error when the informers do not sync within `syncTimeoutMs`, or when
   *   {@link close} is called first. The informers keep retrying after a failed start
   *   until {@link close} is called.
   */
  start(): Promise<void> {
    this.startPromise ??= this.startInOrder();
    return this.startPromise;
  }

  private async startInOrder(): Promise<void> {
    const syncTimeoutMs = this.options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    this.logger.info(
      { configs: this.options.configs.map((config) => config.name) },
      "starting worker",
    );

    this.cache.start();
    await this.cache.waitForSync(syncTimeoutMs);
    this.metrics.cacheSynced.set(this.cache.isSynced ? 1 : 0);
    if (this.closePromise !== undefined) {
      throw new Error("worker was closed while waiting for the cluster cache to sync");
    }

    this.createQueueAndWorkers();
    await Promise.all([this.rotationWorker?.waitUntilReady(), this.patchWorker?.waitUntilReady()]);
    this.logger.info(
      { externalSecrets: this.cache.externalSecretCount, prefix: this.prefix },
      "cluster cache synced; processing rotation and patch jobs",
    );
  }

  private get prefix(): string {
    return this.options.prefix ?? DEFAULT_QUEUE_PREFIX;
  }

  private createQueueAndWorkers(): void {
    const base = { connection: this.connection, prefix: this.prefix };

    this.patchQueue = new Queue<PatchRequest>(PATCH_QUEUE, base);
    this.patchQueue.on("error", (error) => this.reportQueueError("patch queue", error));

    this.patchWorker = new Worker<PatchRequest>(
      PATCH_QUEUE,
      createPatchProcessor({ patcher: this.patcher, metrics: this.metrics, logger: this.logger }),
      {
        ...base,
        concurrency: this.options.patchConcurrency ?? DEFAULT_PATCH_CONCURRENCY,
        settings: { backoffStrategy: patchBackoffStrategy },
      },
    );
    this.patchWorker.on("error", (error) => this.reportQueueError("patch worker", error));

    this.rotationWorker = new Worker<RotationEvent>(
      ROTATION_QUEUE,
      createRotationProcessor({
        configs: this.options.configs,
        targetFinder: this.cache,
        patchQueue: this.patchQueue,
        patchJobOptions: createPatchJobOptions(this.options.patchJobOptions),
        metrics: this.metrics,
        logger: this.logger,
      }),
      { ...base, concurrency: this.options.rotationConcurrency ?? DEFAULT_ROTATION_CONCURRENCY },
    );
    this.rotationWorker.on("error", (error) => this.reportQueueError("rotation worker", error));
    this.rotationWorker.on("failed", (job, error) =>
      this.logger.warn({ jobId: job?.id, reason: error.message }, "rotation job failed"),
    );
  }

  /**
   * Stops taking jobs, waits for the active ones, then stops the informers and closes the
   * Redis connection the worker opened. Every step runs even when an earlier one fails.
   * Later calls return the same promise.
   *
   * @throws AggregateError listing the steps that failed, after all steps have run.
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeAll();
    return this.closePromise;
  }

  private async closeAll(): Promise<void> {
    try {
      await runShutdownSteps(
        "worker",
        [
          ["close rotation worker", () => this.rotationWorker?.close()],
          ["close patch worker", () => this.patchWorker?.close()],
          ["close patch queue", () => this.patchQueue?.close()],
          ["stop informers", () => this.cache.close()],
          ["close Redis connection", () => this.quitOwnedConnection()],
        ],
        this.logger,
      );
    } finally {
      this.metrics.cacheSynced.set(0);
    }
  }

  private async quitOwnedConnection(): Promise<void> {
    if (this.ownedConnection === undefined || this.ownedConnection.status === "end") {
      return;
    }

    if (this.ownedConnection.status === "wait") {
      this.ownedConnection.disconnect();
      return;
    }

    await this.ownedConnection.quit();
  }

  /**
   * Logs BullMQ errors at a limited rate: during a Redis outage each queue and worker
   * reports every failed reconnect.
   */
  private reportQueueError(component: string, error: Error): void {
    const permit = this.queueErrorLimiter.take();
    if (!permit.allowed) return;
    this.logger.error({ err: error, component, suppressed: permit.suppressed }, "queue error");
  }
}
