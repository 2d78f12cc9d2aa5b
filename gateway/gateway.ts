import { runShutdownSteps } from "../shared/process-lifecycle.js";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import type { ReloaderConfig } from "../shared/config-schema.js";
import type { Logger } from "../shared/logger.js";
import { createGatewayMetrics, type GatewayMetrics } from "../shared/metrics.js";
import {
  DEFAULT_QUEUE_PREFIX,
  ROTATION_QUEUE,
  type RotationEvent,
} from "../shared/queue-contract.js";
import {
  createRedisConnection,
  DEFAULT_REDIS_URL,
  reportRedisOutages,
} from "../shared/redis-connection.js";
import { RotationEnqueuer, type RotationEnqueuerOptions } from "./rotation-enqueuer.js";
import { TcpSource } from "./tcp-source.js";

/**
 * Commands the gateway's own Redis connection retries across reconnects before they fail.
 * A failed `addBulk` is logged and retried by the enqueuer, so an outage shows in the log
 * instead of commands waiting silently in the ioredis offline queue.
 */
const OWNED_CONNECTION_MAX_RETRIES = 3;

/** Settings of the enqueuer that the gateway passes through. */
export type EnqueuerSettings = Omit<RotationEnqueuerOptions, "queue" | "logger" | "metrics">;

/** Options of a `Gateway`. */
export interface GatewayOptions {
  /** Loaded Configs; the gateway listens on every TCPSocket and HashicorpVault source of each. */
  readonly configs: readonly ReloaderConfig[];
  /** Redis connection for BullMQ, owned and closed by the caller. Takes precedence over `redisUrl`. */
  readonly connection?: Redis;
  /** Redis URL used when `connection` is absent. Default `redis://127.0.0.1:6379`. The gateway closes this connection. */
  readonly redisUrl?: string;
  /** BullMQ key prefix. Default `DEFAULT_QUEUE_PREFIX` (`reloader`). */
  readonly prefix?: string;
  readonly logger: Logger;
  /** Registry for the gateway's metrics; several gateways may share one. */
  readonly registry: Registry;
  /** Batching, back-pressure and retry settings; see `RotationEnqueuerOptions`. */
  readonly enqueuer?: EnqueuerSettings;
  /** Time in ms that `close()` keeps reading from senders before destroying their connections. Default 2000. */
  readonly connectionCloseGraceMs?: number;
  /** Maximum simultaneous connections per source. Default 1024. */
  readonly maxConnectionsPerSource?: number;
  /** Idle time before a connection is closed, in ms; 0 turns it off. Default: see `TcpSource`. */
  readonly idleTimeoutMs?: number;
}

/** Address of one listening source. */
export interface SourceAddress {
  readonly configName: string;
  readonly sourceIndex: number;
  readonly host: string;
  readonly port: number;
}

/**
 * The gateway tier: listens on every TCP source of the loaded Configs and adds one
 * rotation job per identifier read to the `rotation-events` queue.
 */
export class Gateway {
  private readonly options: GatewayOptions;
  private readonly logger: Logger;
  private readonly metrics: GatewayMetrics;
  private readonly ownedConnection: Redis | undefined;
  private readonly connection: Redis;
  private readonly queue: Queue<RotationEvent>;
  private readonly enqueuer: RotationEnqueuer;
  private readonly sources: Array<{ configName: string; index: number; source: TcpSource }>;
  private startPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;

  /**
   * Creates the queue, which starts connecting to Redis, and one listener per source. Binds
   * no port until `start()`.
   *
   * @throws IdentifierPathError when a source's identifier path is not supported.
   */
  constructor(options: GatewayOptions) {
    this.options = options;
    this.logger = options.logger;
    this.metrics = createGatewayMetrics(options.registry);

    this.ownedConnection =
      options.connection === undefined
        ? // Not lazyConnect: BullMQ 6.7 keeps the rejected promise of a lazy connection that
          // failed its first connect, and the queue never recovers when Redis comes back.
          createRedisConnection(options.redisUrl ?? DEFAULT_REDIS_URL, {
            maxRetriesPerRequest: OWNED_CONNECTION_MAX_RETRIES,
          })
        : undefined;
    this.connection = options.connection ?? (this.ownedConnection as Redis);
    if (this.ownedConnection) reportRedisOutages(this.ownedConnection, this.logger);

    this.queue = new Queue<RotationEvent>(ROTATION_QUEUE, {
      connection: this.connection,
      prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
    });
    // Without a listener, an 'error' event would crash the process; ioredis reports the
    // same outage on the connection, where it is logged once.
    this.queue.on("error", (error) => this.logger.debug({ err: error }, "rotation queue error"));

    this.enqueuer = new RotationEnqueuer({
      ...options.enqueuer,
      queue: this.queue,
      logger: options.logger.child({ component: "enqueuer" }),
      metrics: this.metrics,
    });
    this.sources = this.createSources();
  }

  /**
   * Binds every source; resolves when all listen. On failure closes the gateway (see
   * `close()`) and rejects with the first error. Later calls return the same promise.
   *
   * @throws ListenError naming host:port, for example on EADDRINUSE or EACCES.
   */
  start(): Promise<void> {
    this.startPromise ??= this.startSources();
    return this.startPromise;
  }

  private async startSources(): Promise<void> {
    const results = await Promise.allSettled(this.sources.map(({ source }) => source.start()));
    const failure = results.find((result) => result.status === "rejected");
    if (failure !== undefined) {
      await this.close().catch((error: unknown) => {
        this.logger.error({ err: error }, "cleanup after a failed start failed");
      });
      throw failure.reason;
    }
    this.logger.info(
      { sources: this.sources.length, prefix: this.options.prefix ?? DEFAULT_QUEUE_PREFIX },
      "gateway started",
    );
  }

  /**
   * Returns the bound address of every source, in Config and source order.
   *
   * @throws Error before `start()` has resolved.
   */
  addresses(): SourceAddress[] {
    return this.sources.map(({ configName, index, source }) => ({
      configName,
      sourceIndex: index,
      ...source.address(),
    }));
  }

  /** Returns why the gateway cannot take documents now; an empty list means ready. */
  readinessProblems(): string[] {
    const problems: string[] = [];
    const idle = this.sources.filter(({ source }) => !source.isListening);
    if (idle.length > 0) problems.push(`${idle.length} TCP source(s) not listening`);
    if (this.connection.status !== "ready") {
      problems.push(`Redis connection is ${this.connection.status}`);
    }
    return problems;
  }

  /**
   * Stops accepting connections, ends the open ones after processing what they sent,
   * stores every identifier read, then closes the queue and the connection the gateway
   * opened. Every step runs even when an earlier one fails. Later calls return the same
   * promise.
   *
   * @throws AggregateError listing the steps that failed, after all steps have run.
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeAll();
    return this.closePromise;
  }

  private async closeAll(): Promise<void> {
    await runShutdownSteps(
      "gateway",
      [
        ["close TCP sources", () => Promise.all(this.sources.map(({ source }) => source.close()))],
        ["store pending identifiers", () => this.enqueuer.close()],
        ["close rotation queue", () => this.queue.close()],
        ["close Redis connection", () => this.quitOwnedConnection()],
      ],
      this.logger,
    );
  }

  private createSources(): Array<{ configName: string; index: number; source: TcpSource }> {
    const sources = [];
    for (const config of this.options.configs) {
      for (const source of config.sources) {
        const logger = this.logger.child({ config: config.name, sourceIndex: source.index });
        const tcpSource = new TcpSource({
          configName: config.name,
          source,
          enqueuer: this.enqueuer,
          metrics: this.metrics,
          logger,
          connectionCloseGraceMs: this.options.connectionCloseGraceMs,
          maxConnections: this.options.maxConnectionsPerSource,
          idleTimeoutMs: this.options.idleTimeoutMs,
        });
        sources.push({ configName: config.name, index: source.index, source: tcpSource });
      }
    }
    return sources;
  }

  private async quitOwnedConnection(): Promise<void> {
    const connection = this.ownedConnection;
    if (connection === undefined || connection.status === "end") return;
    if (connection.status === "wait") {
      connection.disconnect();
      return;
    }
    await connection.quit();
  }
}
