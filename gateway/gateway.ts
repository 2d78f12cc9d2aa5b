import { runShutdownSteps } from "../shared/process-lifecycle.js";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { SourceType, type ReloaderConfig } from "../shared/config-schema.js";
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
import { MountedSecretFiles, type SecretKeyReader } from "./secret-key-reader.js";
import { WebhookServer, type WebhookRoute } from "./webhook-server.js";
import { parseCidrs } from "./cidr.js";
import {
  ClientRateLimits,
  ConnectionLimits,
  DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
  DEFAULT_MAX_GATEWAY_CONNECTIONS,
  DEFAULT_MAX_MESSAGES_PER_SECOND,
  DEFAULT_MESSAGE_BURST,
} from "./client-limits.js";
import { TlsFiles, type TlsFilePaths } from "./tls-files.js";
import type { BlockList } from "node:net";

/**
 * Commands the gateway's own Redis connection retries across reconnects before they fail.
 * A failed `addBulk` is logged and retried by the enqueuer, so an outage shows in the log
 * instead of commands waiting silently in the ioredis offline queue.
 */
const OWNED_CONNECTION_MAX_RETRIES = 3;

/** ioredis connection states in which a command cannot reach Redis until it reconnects. */
const LOST_CONNECTION_STATUSES = new Set(["close", "reconnecting", "end"]);

/** Settings of the enqueuer that the gateway passes through. */
export type EnqueuerSettings = Omit<RotationEnqueuerOptions, "queue" | "logger" | "metrics">;

/** Options of a `Gateway`. */
export interface GatewayOptions {
  /** Loaded Configs; the gateway listens on every TCPSocket, HashicorpVault and Webhook source of each. */
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
  /**
   * Idle time before a TCPSocket or Webhook connection is closed, in ms; 0 turns it off.
   * Default 300000. HashicorpVault sources never close idle connections.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Reads the Secret keys that Webhook sources reference. Default: files under `secretsDir`.
   */
  readonly secretKeyReader?: SecretKeyReader;
  /** Directory where those Secrets are mounted when `secretKeyReader` is unset. Default `/etc/reloader/secrets`. */
  readonly secretsDir?: string;
  /** Time between reads of the Webhook credentials, in ms. Default 10000. */
  readonly credentialRefreshMs?: number;
  /** Time in ms a Webhook request waits for Redis before its response is 503. Default 5000. */
  readonly webhookEnqueueTimeoutMs?: number;
  /** Time in ms a Webhook client has to send a whole request. Default 30000. */
  readonly webhookRequestTimeoutMs?: number;
  /**
   * IPv4 and IPv6 networks, such as `10.0.0.0/8`, that may connect to the sources; others
   * are closed at accept. Default empty: every address may connect.
   */
  readonly allowedCidrs?: readonly string[];
  /** Maximum simultaneous connections across all sources. Default 4096. */
  readonly maxConnections?: number;
  /** Maximum simultaneous connections from one client IP address. Default 32. */
  readonly maxConnectionsPerClient?: number;
  /** Documents per second one connection may send on average; 0 turns it off. Default 1000. */
  readonly maxMessagesPerSecond?: number;
  /** Documents one connection may send at once above that rate. Default 2000. */
  readonly messageBurst?: number;
  /**
   * Certificate, key and optional client CA; when set, every source serves TLS, and with a
   * CA it requires client certificates. `reloadIntervalMs` (default 5000) is how often the
   * files are checked for changes.
   */
  readonly tls?: TlsFilePaths & { readonly reloadIntervalMs?: number };
}

/** Connection checks, rate limit and TLS files shared by every listener of a gateway. */
interface ExposureSettings {
  readonly allowedAddresses: BlockList | undefined;
  readonly connectionLimits: ConnectionLimits;
  readonly rateLimits: ClientRateLimits | undefined;
  readonly tls: TlsFiles | undefined;
}

/** Address of one listening source. */
export interface SourceAddress {
  readonly configName: string;
  readonly sourceIndex: number;
  readonly host: string;
  readonly port: number;
  /** HTTP path of a Webhook source; absent for TCP sources. */
  readonly path?: string;
}

/**
 * The gateway tier: listens on every TCP and Webhook source of the loaded Configs and adds
 * one rotation job per identifier read to the `rotation-events` queue.
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
  /** One HTTP server per Webhook host and port, with the sources it serves. */
  private readonly webhookServers: Array<{ server: WebhookServer; routes: WebhookRoute[] }>;
  private readonly rateLimits: ClientRateLimits | undefined;
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
    const exposure = this.createExposureSettings();
    this.rateLimits = exposure.rateLimits;
    this.sources = this.createSources(exposure);
    this.webhookServers = this.createWebhookServers(exposure);
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
    // Credentials first, so a missing Secret stops the start before any source listens.
    await this.allOrClose(this.webhookServers.map(({ server }) => server.loadCredentials()));
    await this.allOrClose([
      ...this.sources.map(({ source }) => source.start()),
      ...this.webhookServers.map(({ server }) => server.start()),
    ]);
    this.logger.info(
      {
        sources: this.sources.length,
        webhookServers: this.webhookServers.length,
        prefix: this.options.prefix ?? DEFAULT_QUEUE_PREFIX,
      },
      "gateway started",
    );
  }

  /** Waits for every step; when one failed, closes the gateway and throws the first error. */
  private async allOrClose(steps: ReadonlyArray<Promise<unknown>>): Promise<void> {
    const results = await Promise.allSettled(steps);
    const failure = results.find((result) => result.status === "rejected");
    if (failure === undefined) return;

    await this.close().catch((error: unknown) => {
      this.logger.error({ err: error }, "cleanup after a failed start failed");
    });
    throw failure.reason;
  }

  /**
   * Returns the bound address of every source, in Config and source order.
   *
   * @throws Error before `start()` has resolved.
   */
  addresses(): SourceAddress[] {
    const addresses: SourceAddress[] = this.sources.map(({ configName, index, source }) => ({
      configName,
      sourceIndex: index,
      ...source.address(),
    }));
    for (const { server, routes } of this.webhookServers) {
      const bound = server.address();
      for (const { configName, source } of routes) {
        addresses.push({ configName, sourceIndex: source.index, ...bound, path: source.path });
      }
    }

    const configOrder = this.options.configs.map((config) => config.name);
    return addresses.sort(
      (a, b) =>
        configOrder.indexOf(a.configName) - configOrder.indexOf(b.configName) ||
        a.sourceIndex - b.sourceIndex,
    );
  }

  /** Returns why the gateway cannot take documents now; an empty list means ready. */
  readinessProblems(): string[] {
    const problems: string[] = [];
    const idle = this.sources.filter(({ source }) => !source.isListening);
    if (idle.length > 0) problems.push(`${idle.length} TCP source(s) not listening`);
    const idleServers = this.webhookServers.filter(({ server }) => !server.isListening);
    if (idleServers.length > 0) {
      problems.push(`${idleServers.length} Webhook HTTP server(s) not listening`);
    }
    if (this.connection.status !== "ready") {
      problems.push(`Redis is not reachable (connection status: ${this.connection.status})`);
    }
    if (this.enqueuer.full) {
      problems.push(
        `${this.enqueuer.backlog} identifiers are waiting for Redis, the maxPendingIdentifiers ` +
          "bound; new identifiers are shed",
      );
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
        [
          "close Webhook servers",
          () => Promise.all(this.webhookServers.map(({ server }) => server.close())),
        ],
        ["store pending identifiers", () => this.enqueuer.close()],
        ["stop rate-limit sweeps", () => Promise.resolve(this.rateLimits?.close())],
        ["close rotation queue", () => this.queue.close()],
        ["close Redis connection", () => this.quitOwnedConnection()],
      ],
      this.logger,
    );
  }

  /**
   * Builds the connection checks, rate limit and TLS files that every listener shares.
   *
   * @throws UsageError on an invalid CIDR or an unusable TLS file.
   */
  private createExposureSettings(): ExposureSettings {
    const options = this.options;
    const allowedAddresses =
      options.allowedCidrs && options.allowedCidrs.length > 0
        ? parseCidrs(options.allowedCidrs)
        : undefined;
    const connectionLimits = new ConnectionLimits(
      options.maxConnections ?? DEFAULT_MAX_GATEWAY_CONNECTIONS,
      options.maxConnectionsPerClient ?? DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    );
    const messagesPerSecond = options.maxMessagesPerSecond ?? DEFAULT_MAX_MESSAGES_PER_SECOND;
    const messageRate =
      messagesPerSecond > 0
        ? { messagesPerSecond, burst: Math.max(1, options.messageBurst ?? DEFAULT_MESSAGE_BURST) }
        : undefined;
    const tls =
      options.tls &&
      new TlsFiles({ ...options.tls, logger: this.logger.child({ component: "tls" }) });
    const rateLimits = messageRate && new ClientRateLimits(messageRate);
    return { allowedAddresses, connectionLimits, rateLimits, tls };
  }

  private createSources(
    exposure: ExposureSettings,
  ): Array<{ configName: string; index: number; source: TcpSource }> {
    const { allowedAddresses, connectionLimits, rateLimits, tls } = exposure;
    const sources = [];
    for (const config of this.options.configs) {
      for (const source of config.sources) {
        if (source.type === SourceType.Webhook) continue;
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
          allowedAddresses,
          connectionLimits,
          rateLimits,
          tls,
        });
        sources.push({ configName: config.name, index: source.index, source: tcpSource });
      }
    }
    return sources;
  }

  /** Groups Webhook sources by host and port; the loader has checked that paths are unique. */
  private createWebhookServers(
    exposure: ExposureSettings,
  ): Array<{ server: WebhookServer; routes: WebhookRoute[] }> {
    const groups = new Map<string, WebhookRoute[]>();
    for (const config of this.options.configs) {
      for (const source of config.sources) {
        if (source.type !== SourceType.Webhook) continue;
        const key = `${source.host} ${source.port}`;
        const routes = groups.get(key) ?? [];
        routes.push({ configName: config.name, source });
        groups.set(key, routes);
      }
    }

    const secretKeyReader =
      this.options.secretKeyReader ?? new MountedSecretFiles(this.options.secretsDir);
    return [...groups.values()].map((routes) => {
      const [first] = routes as [WebhookRoute, ...WebhookRoute[]];
      const server = new WebhookServer({
        host: first.source.host,
        port: first.source.port,
        routes,
        queue: this.queue,
        isRedisLost: () => LOST_CONNECTION_STATUSES.has(this.connection.status),
        metrics: this.metrics,
        logger: this.logger.child({ component: "webhook" }),
        secretKeyReader: secretKeyReader,
        credentialRefreshMs: this.options.credentialRefreshMs,
        enqueueTimeoutMs: this.options.webhookEnqueueTimeoutMs,
        ...exposure,
        idleTimeoutMs: this.options.idleTimeoutMs,
        requestTimeoutMs: this.options.webhookRequestTimeoutMs,
        connectionCloseGraceMs: this.options.connectionCloseGraceMs,
      });
      return { server, routes };
    });
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
