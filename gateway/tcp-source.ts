import { createServer, type BlockList, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type Server as TlsServer,
  type TLSSocket,
} from "node:tls";
import { SourceType, type NotificationSource } from "../shared/config-schema.js";
import type { Logger } from "../shared/logger.js";
import { MessageResult, type GatewayMetrics } from "../shared/metrics.js";
import { formatAddress, ListenError } from "./listen-error.js";
import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import type { RotationEnqueuer } from "./rotation-enqueuer.js";
import { IdentifierRejection } from "./identifier-rules.js";
import { createSourceReader } from "./source-extraction.js";
import { createSourceLogLimits, TcpConnection, type SourceContext } from "./tcp-connection.js";
import type { ClientRateLimits, ConnectionLimits } from "./client-limits.js";
import { ConnectionGate } from "./connection-gate.js";
import { clientCertificateProblem, type TlsFiles } from "./tls-files.js";

/** Time in ms that `close()` waits for senders to close their side when unset. */
export const DEFAULT_CONNECTION_CLOSE_GRACE_MS = 2000;

/** Simultaneous connections per source when unset; each may buffer up to `maxMessageBytes`. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** Idle time after which a TCPSocket source closes a connection, in ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** Time a client has to finish the TLS handshake before the connection is closed, in ms. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Vault keeps one audit connection open and idle between requests. When the gateway closes
 * it, Vault's next write can land on the closed socket and be lost, so Vault sources keep
 * idle connections whatever the setting (TCP keepalive still detects dead peers).
 */
function idleTimeoutOf(source: NotificationSource, idleTimeoutMs: number | undefined): number {
  return source.type === SourceType.HashicorpVault ? 0 : (idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
}

/** Options of a `TcpSource`. */
export interface TcpSourceOptions {
  /** `metadata.name` of the Config that declares the source. */
  readonly configName: string;
  readonly source: NotificationSource;
  readonly enqueuer: RotationEnqueuer;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /**
   * Time in ms that `close()` keeps reading from senders after sending FIN, before it
   * destroys their connections. Default `DEFAULT_CONNECTION_CLOSE_GRACE_MS` (2000).
   */
  readonly connectionCloseGraceMs?: number;
  /**
   * Maximum simultaneous connections; Node.js closes connections beyond it at once.
   * Default `DEFAULT_MAX_CONNECTIONS` (1024).
   */
  readonly maxConnections?: number;
  /**
   * Time a connection may send nothing before the gateway closes it, in ms; 0 turns the
   * timeout off. Default `DEFAULT_IDLE_TIMEOUT_MS` (300000, five minutes). HashicorpVault
   * sources ignore it and never close idle connections.
   */
  readonly idleTimeoutMs?: number;
  /** Client networks allowed to connect; undefined allows every address. */
  readonly allowedAddresses?: BlockList;
  /**
   * Connection counts shared by every source of the gateway, which enforce the global and
   * per-client limits; undefined leaves only `maxConnections`.
   */
  readonly connectionLimits?: ConnectionLimits;
  /**
   * Message-rate limit of each connection; undefined turns it off. HashicorpVault sources
   * ignore it: pausing the audit socket would make Vault fail its clients' requests.
   */
  readonly rateLimits?: ClientRateLimits;
  /** Certificate files to serve TLS with; undefined serves plain TCP. */
  readonly tls?: TlsFiles;
}

/** Host and port that a started source listens on. */
export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * One TCPSocket or HashicorpVault notification source: a `net.Server` on the source's host
 * and port whose connections each carry a stream of JSON documents. The source type decides
 * how identifiers are read from each document (see `createSourceReader`).
 */
export class TcpSource {
  private readonly server: Server;
  private readonly context: SourceContext;
  private readonly connections = new Set<TcpConnection>();
  private readonly graceMs: number;
  private readonly dropWarnings = new LogRateLimiter(1, 10_000);
  private readonly droppedConnections: { inc(): void };
  private readonly gate: ConnectionGate;
  /** Server that runs the TLS handshake on sockets `server` accepted; it never listens itself. */
  private readonly tlsServer: TlsServer | undefined;
  /** Accepted sockets whose TLS handshake has not finished, by remote address and port. */
  private readonly handshakes = new Map<string, Socket>();
  private unsubscribeTls: (() => void) | undefined;
  private listening = false;
  private closePromise: Promise<void> | undefined;

  /** @throws IdentifierPathError when the source's identifier path is not supported. */
  constructor(private readonly options: TcpSourceOptions) {
    const { configName, source, metrics } = options;
    const labels = { config: configName, source: String(source.index) };
    const messages = Object.fromEntries(
      Object.values(MessageResult).map((result) => [
        result,
        metrics.messages.labels({ ...labels, result }),
      ]),
    ) as SourceContext["messages"];

    const rejectedIdentifiers = Object.fromEntries(
      Object.values(IdentifierRejection).map((reason) => [
        reason,
        metrics.rejectedIdentifiers.labels({ ...labels, reason }),
      ]),
    ) as SourceContext["rejectedIdentifiers"];

    this.context = {
      configName,
      source,
      ...createSourceReader(source),
      enqueuer: options.enqueuer,
      messages,
      openConnections: metrics.openConnections.labels(labels),
      rejectedIdentifiers,
      idleTimeouts: metrics.connectionsClosed.labels({ ...labels, reason: "idle_timeout" }),
      idleTimeoutMs: idleTimeoutOf(source, options.idleTimeoutMs),
      rateLimits: source.type === SourceType.HashicorpVault ? undefined : options.rateLimits,
      throttles: metrics.connectionsThrottled.labels(labels),
      logLimits: createSourceLogLimits(),
      logger: options.logger,
    };
    this.gate = new ConnectionGate({
      allowedAddresses: options.allowedAddresses,
      connectionLimits: options.connectionLimits,
      metrics,
      labels,
      logger: options.logger,
    });
    this.droppedConnections = metrics.connectionsClosed.labels({
      ...labels,
      reason: "max_connections",
    });
    this.graceMs = options.connectionCloseGraceMs ?? DEFAULT_CONNECTION_CLOSE_GRACE_MS;

    this.server = createServer((socket) => this.accept(socket));
    this.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.server.on("drop", (data) => this.warnDropped(data?.remoteAddress));
    this.tlsServer = options.tls && this.createTlsServer(options.tls);
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Binds the source's host and port; resolves once it listens.
   *
   * @throws ListenError naming host:port and the fix, such as for EADDRINUSE or EACCES.
   */
  start(): Promise<void> {
    const { host, port, index } = this.options.source;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        this.server.off("listening", onListening);
        reject(new ListenError(host, port, this.options.configName, index, error));
      };
      const onListening = () => {
        this.server.off("error", onError);
        this.server.on("error", (error) =>
          this.options.logger.error({ err: error }, "listener failed"),
        );
        this.listening = true;
        this.unsubscribeTls = this.options.tls?.subscribe((secureContext) => {
          this.tlsServer?.setSecureContext(secureContext);
        });

        const bound = this.address();
        this.options.logger.info(
          {
            address: formatAddress(bound.host, bound.port),
            sourceType: this.options.source.type,
            tls: this.tlsServer !== undefined,
            clientCertificateRequired: this.options.tls?.clientCertificateRequired ?? false,
            ...this.context.extractionSettings,
          },
          "listening for JSON documents",
        );
        resolve();
      };
      this.server.once("error", onError);
      this.server.once("listening", onListening);
      this.server.listen({ host, port });
    });
  }

  /**
   * Returns the bound address; the port differs from the configured one when that was 0.
   *
   * @throws Error before `start()` has resolved.
   */
  address(): BoundAddress {
    const address = this.server.address();
    if (address === null || typeof address === "string") {
      throw new Error(
        `source ${this.options.source.index} of Config "${this.options.configName}" is not listening; call start() first`,
      );
    }
    return { host: address.address, port: address.port };
  }

  /** Whether the server is bound and not closed. */
  get isListening(): boolean {
    return this.listening && this.closePromise === undefined;
  }

  /**
   * Stops accepting connections and ends the open ones (see `TcpConnection.end`). Resolves
   * when every connection has closed, so that every byte read has reached the enqueuer.
   * Later calls return the same promise.
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeAll();
    return this.closePromise;
  }

  private async closeAll(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.unsubscribeTls?.();
    for (const socket of this.handshakes.values()) socket.destroy();
    const open = [...this.connections];
    await Promise.all(open.map((connection) => connection.end(this.graceMs)));
    await serverClosed;
    this.options.logger.info({ closedConnections: open.length }, "source closed");
  }

  /**
   * Checks a new socket against the allowed networks and the global and per-client limits,
   * then starts the TLS handshake or reads documents. A rejected socket is destroyed.
   */
  private accept(socket: Socket): void {
    if (this.closePromise !== undefined) {
      socket.destroy();
      return;
    }
    if (!this.gate.admit(socket)) return;

    if (this.tlsServer === undefined) {
      this.open(socket);
      return;
    }
    const key = socketKey(socket);
    this.handshakes.set(key, socket);
    socket.once("close", () => this.handshakes.delete(key));
    // The TLS server wraps the socket in a TLSSocket and emits 'secureConnection' or
    // 'tlsClientError' when the handshake ends.
    this.tlsServer.emit("connection", socket);
  }

  private createTlsServer(tls: TlsFiles): TlsServer {
    // rejectUnauthorized is false so that a client certificate that fails verification
    // reaches onSecureConnection, which counts and logs it before closing the connection.
    const server = createTlsServer(
      {
        ...tls.secureContextOptions,
        requestCert: tls.clientCertificateRequired,
        rejectUnauthorized: false,
        handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
      },
      (socket) => this.onSecureConnection(socket),
    );
    server.on("tlsClientError", (error, socket) => {
      const code = (error as NodeJS.ErrnoException).code;
      this.gate.handshakeFailed(socket.remoteAddress, code, error.message);
      // Node.js leaves the socket open after a handshake timeout, so it is closed here.
      socket.destroy();
    });
    return server;
  }

  private onSecureConnection(socket: TLSSocket): void {
    this.handshakes.delete(socketKey(socket));
    if (this.closePromise !== undefined) {
      socket.destroy();
      return;
    }
    const problem = this.options.tls?.clientCertificateRequired
      ? clientCertificateProblem(socket)
      : undefined;
    if (problem !== undefined) {
      this.gate.handshakeFailed(socket.remoteAddress, problem);
      socket.destroy();
      return;
    }
    this.open(socket);
  }

  private open(socket: Socket): void {
    const connection = new TcpConnection(socket, this.context);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  private warnDropped(remoteAddress: string | undefined): void {
    this.droppedConnections.inc();
    const permit = this.dropWarnings.take();
    if (!permit.allowed) return;
    this.options.logger.warn(
      {
        remoteAddress,
        maxConnections: this.server.maxConnections,
        suppressedWarnings: permit.suppressed,
      },
      "connection refused: the source has reached maxConnections",
    );
  }
}

/** Returns a key that identifies an open connection by its remote address and port. */
function socketKey(socket: Socket): string {
  return `${socket.remoteAddress ?? "unknown"}|${socket.remotePort ?? 0}`;
}
