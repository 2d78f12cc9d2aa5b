import {
  createServer as createHttpServer,
  type RequestListener,
  type Server as HttpServer,
} from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ConnectionGate } from "./connection-gate.js";
import { TLS_HANDSHAKE_TIMEOUT_MS } from "./tcp-source.js";
import { clientCertificateProblem, type TlsFiles } from "./tls-files.js";

/**
 * Maximum time an HTTP keep-alive connection waits for its next request, in ms. Above the
 * 60 s idle timeout of common cloud load balancers, so they close first and never send a
 * request on a connection the gateway is closing.
 */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** How often Node.js checks open requests against the request and header timeouts, in ms. */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** Maximum time a client may take to send the request headers, in ms. */
const HEADERS_TIMEOUT_MS = 10_000;

/** Options of `createGuardedHttpServer`. */
export interface GuardedHttpServerOptions {
  /** Checks every accepted connection before HTTP or TLS reads from it. */
  readonly gate: ConnectionGate;
  /** Certificate files to serve HTTPS with; undefined serves plain HTTP. */
  readonly tls?: TlsFiles;
  /** Time a connection may send nothing before it is closed, in ms; 0 turns it off. */
  readonly idleTimeoutMs: number;
  /** Time a client has to send a whole request, headers and body, in ms. */
  readonly requestTimeoutMs: number;
  /** `reloader_gateway_open_connections` of the listener, counting admitted connections. */
  readonly openConnections: { inc(): void; dec(): void };
  /** Called when the idle timeout closes a connection. */
  readonly onIdleTimeout: () => void;
  /** Called when the request timeout or a malformed request closes a connection. */
  readonly onClientError: (code: string | undefined) => void;
}

/** A Node.js HTTP or HTTPS server whose connections pass a `ConnectionGate`. */
export interface GuardedHttpServer {
  readonly server: HttpServer | HttpsServer;
  /** Connections admitted and not closed yet. */
  readonly sockets: ReadonlySet<Socket>;
  /** Stops following changes of the TLS files. */
  stopTlsReload(): void;
}

/**
 * Creates the server behind a Webhook listener. The server's own connection handling (the
 * HTTP parser, or the TLS handshake for HTTPS) is moved behind the gate. So a rejected
 * connection is closed before any byte of it is parsed, and a TLS handshake failure is
 * counted only for connections the gate admitted.
 */
export function createGuardedHttpServer(
  handler: RequestListener,
  options: GuardedHttpServerOptions,
): GuardedHttpServer {
  const { tls } = options;
  const headersTimeout = Math.min(HEADERS_TIMEOUT_MS, options.requestTimeoutMs);
  const httpOptions = {
    requestTimeout: options.requestTimeoutMs,
    headersTimeout,
    keepAliveTimeout: keepAliveTimeout(options.idleTimeoutMs),
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
  const server =
    tls === undefined
      ? createHttpServer(httpOptions, handler)
      : createHttpsServer(
          {
            ...httpOptions,
            ...tls.secureContextOptions,
            requestCert: tls.clientCertificateRequired,
            // Checked in the 'secureConnection' wrapper below instead, so the rejection is
            // counted once and logged with the verification error.
            rejectUnauthorized: false,
            handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
          },
          handler,
        );

  const sockets = new Set<Socket>();
  const readers = server.listeners("connection") as Array<(socket: Socket) => void>;
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    if (!options.gate.admit(socket)) return;
    sockets.add(socket);
    options.openConnections.inc();
    socket.once("close", () => {
      sockets.delete(socket);
      options.openConnections.dec();
    });
    for (const read of readers) read.call(server, socket);
  });

  // Sockets whose TLS handshake finished; errors of the others are TLS failures, which
  // 'tlsClientError' counts, although Node.js reports them as 'clientError' too.
  const secured = new WeakSet<Socket>();
  if (tls !== undefined) {
    const handlers = server.listeners("secureConnection") as Array<(socket: TLSSocket) => void>;
    server.removeAllListeners("secureConnection");
    server.on("secureConnection", (socket: TLSSocket) => {
      const problem = tls.clientCertificateRequired ? clientCertificateProblem(socket) : undefined;
      if (problem !== undefined) {
        options.gate.handshakeFailed(socket.remoteAddress, problem);
        socket.destroy();
        return;
      }
      secured.add(socket);
      for (const handle of handlers) handle.call(server, socket);
    });
  }

  // With a 'timeout' listener Node.js leaves the socket open, so it is closed here.
  // NOTE: the timeout also runs while a request waits for Redis, so an idle timeout below
  // the 5 s enqueue timeout can close a request before its response.
  server.setTimeout(options.idleTimeoutMs);
  server.on("timeout", (socket: Socket) => {
    options.onIdleTimeout();
    socket.destroy();
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === "ECONNRESET") return;
    if (tls !== undefined && !secured.has(socket)) return;
    options.onClientError(error.code);
  });
  server.on("tlsClientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    options.gate.handshakeFailed(socket.remoteAddress, error.code, error.message);
    socket.destroy();
  });

  const stopTlsReload =
    tls?.subscribe((secureContext) => (server as HttpsServer).setSecureContext(secureContext)) ??
    (() => undefined);
  return { server, sockets, stopTlsReload };
}

/** Keep-alive time of a connection: the idle timeout when that is shorter. */
function keepAliveTimeout(idleTimeoutMs: number): number {
  return idleTimeoutMs > 0
    ? Math.min(idleTimeoutMs, HTTP_KEEP_ALIVE_TIMEOUT_MS)
    : HTTP_KEEP_ALIVE_TIMEOUT_MS;
}
