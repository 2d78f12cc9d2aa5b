import type { BlockList } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { WebhookSource } from "../shared/config-schema.js";
import { compileIdentifierPath, type IdentifierPath } from "../shared/identifier-path.js";
import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import type { Logger } from "../shared/logger.js";
import { MessageResult, type GatewayMetrics } from "../shared/metrics.js";
import { ROTATION_JOB_OPTIONS, type RotationEvent } from "../shared/queue-contract.js";
import { formatAddress, ListenError } from "./listen-error.js";
import { ROTATION_JOB_NAME, type RotationQueue } from "./rotation-enqueuer.js";
import { WebhookAuthenticator } from "./webhook-auth.js";
import type { SecretKeyReader } from "./secret-key-reader.js";
import { readWebhookPayload } from "./webhook-payload.js";
import type { ClientRateLimits, ConnectionLimits } from "./client-limits.js";
import { ConnectionGate } from "./connection-gate.js";
import { createGuardedHttpServer, type GuardedHttpServer } from "./guarded-http-server.js";
import type { TlsFiles } from "./tls-files.js";
import { DEFAULT_CONNECTION_CLOSE_GRACE_MS, DEFAULT_IDLE_TIMEOUT_MS } from "./tcp-source.js";

/** Time a request waits for Redis to store its jobs before the server responds with 503. */
export const DEFAULT_ENQUEUE_TIMEOUT_MS = 5000;

/** `Retry-After` of a 503 response, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** Time between reads of the Webhook credentials, in ms, when unset. */
export const DEFAULT_CREDENTIAL_REFRESH_MS = 10_000;

/** Time a client has to send a whole request, headers and body, in ms, when unset. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** One Webhook source served by a `WebhookServer`. */
export interface WebhookRoute {
  readonly configName: string;
  readonly source: WebhookSource;
}

/** Options of a `WebhookServer`. */
export interface WebhookServerOptions {
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Sources served on this address, each on its own `path`; paths must be unique. */
  readonly routes: readonly WebhookRoute[];
  readonly queue: RotationQueue;
  /**
   * Returns whether the Redis connection is known to be lost (closed or reconnecting). While
   * it is, requests get a 503 response at once instead of after `enqueueTimeoutMs`.
   */
  readonly isRedisLost: () => boolean;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Reads the Secret keys that `webhookAuth` references. */
  readonly secretKeyReader: SecretKeyReader;
  /** Time between reads of the credentials, in ms. Default `DEFAULT_CREDENTIAL_REFRESH_MS`. */
  readonly credentialRefreshMs?: number;
  /** Default `DEFAULT_ENQUEUE_TIMEOUT_MS`. */
  readonly enqueueTimeoutMs?: number;
  /** Default `DEFAULT_RETRY_AFTER_SECONDS`. */
  readonly retryAfterSeconds?: number;
  /** Client networks allowed to connect; undefined allows every address. */
  readonly allowedAddresses?: BlockList;
  /** Connection counts shared with every other listener of the gateway. */
  readonly connectionLimits?: ConnectionLimits;
  /** Certificate files to serve HTTPS with; undefined serves plain HTTP. */
  readonly tls?: TlsFiles;
  /** Identifier budgets of the clients, shared with the TCP sources; undefined turns the limit off. */
  readonly rateLimits?: ClientRateLimits;
  /** Default `DEFAULT_IDLE_TIMEOUT_MS`; 0 turns the idle timeout off. */
  readonly idleTimeoutMs?: number;
  /** Default `DEFAULT_REQUEST_TIMEOUT_MS`. */
  readonly requestTimeoutMs?: number;
  /**
   * Time `close()` lets requests in progress finish before it closes idle connections, in
   * ms. Default `DEFAULT_CONNECTION_CLOSE_GRACE_MS`, as for the TCP sources.
   */
  readonly connectionCloseGraceMs?: number;
}

/** Settings of one route that its handlers need. */
interface RouteContext {
  readonly configName: string;
  readonly source: WebhookSource;
  readonly identifierPath: IdentifierPath;
  readonly authenticator: WebhookAuthenticator | undefined;
  readonly logger: Logger;
  readonly count: (result: MessageResult) => void;
}

const ENQUEUE_TIMED_OUT = Symbol("enqueue timed out");

/**
 * One HTTP server (fastify) for every Webhook source on one host and port, routed by path.
 * The response to a POST whose body yields identifiers is 202 with the job ids, sent only
 * after Redis has stored the jobs, so a sender that gets 202 need not retry.
 */
export class WebhookServer {
  private readonly options: WebhookServerOptions;
  private readonly logger: Logger;
  private readonly enqueueTimeoutMs: number;
  private readonly retryAfterSeconds: number;
  private readonly outageLogLimiter = new LogRateLimiter(5, 60_000);
  private app: FastifyInstance | undefined;
  private http: GuardedHttpServer | undefined;
  private routes: readonly RouteContext[] = [];
  private loading: Promise<RouteContext[]> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private readonly refreshFailureLogLimiter = new LogRateLimiter(1, 60_000);
  private listening = false;
  private closed = false;

  /** @throws IdentifierPathError when a source's identifier path is not supported. */
  constructor(options: WebhookServerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.enqueueTimeoutMs = options.enqueueTimeoutMs ?? DEFAULT_ENQUEUE_TIMEOUT_MS;
    this.retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    for (const { source } of options.routes) compileIdentifierPath(source.identifierPathOnPayload);
  }

  /**
   * Reads the credentials of every route, unless that was done already; `start()` calls it.
   * Calling it first lets a gateway find a missing Secret before any source listens.
   *
   * @throws WebhookCredentialsError naming the Secret and key that cannot be read.
   */
  async loadCredentials(): Promise<void> {
    this.loading ??= Promise.all(this.options.routes.map((route) => this.routeContext(route)));
    this.routes = await this.loading;
  }

  /** Whether the server is bound and takes requests. */
  get isListening(): boolean {
    return this.listening;
  }

  /**
   * Reads the credentials of every route, then binds the address.
   *
   * @throws WebhookCredentialsError when a credential file is missing or empty.
   * @throws ListenError naming host:port, for example on EADDRINUSE or EACCES.
   */
  async start(): Promise<void> {
    await this.loadCredentials();
    const routes = this.routes;
    const app = this.createApp(routes);
    this.app = app;

    const { host, port } = this.options;
    try {
      await app.listen({ host, port });
    } catch (error) {
      const [first] = this.options.routes;
      const address = { host: "webhook.address", port: "webhook.address" };
      throw new ListenError(
        host,
        port,
        first?.configName ?? "",
        first?.source.index ?? 0,
        error as NodeJS.ErrnoException,
        address,
      );
    }
    this.listening = true;
    if (routes.some((route) => route.authenticator !== undefined)) {
      const intervalMs = this.options.credentialRefreshMs ?? DEFAULT_CREDENTIAL_REFRESH_MS;
      this.refreshTimer = setInterval(() => void this.refreshCredentials(), intervalMs).unref();
    }

    const bound = this.address();
    this.logger.info(
      {
        address: formatAddress(bound.host, bound.port),
        routes: routes.map((route) => ({
          config: route.configName,
          sourceIndex: route.source.index,
          path: route.source.path,
          auth: route.source.auth?.kind ?? "none",
        })),
        credentials: routes.some((route) => route.authenticator !== undefined)
          ? this.options.secretKeyReader.kind
          : "none",
      },
      "listening for Webhook requests",
    );
  }

  /**
   * Returns the bound address; the port differs from the configured one when that was 0.
   *
   * @throws Error before `start()` has resolved.
   */
  address(): { host: string; port: number } {
    const bound = this.app?.server.address();
    if (bound === undefined || bound === null || typeof bound === "string") {
      throw new Error(
        `the Webhook server for ${formatAddress(this.options.host, this.options.port)} is not listening`,
      );
    }
    return { host: bound.address, port: bound.port };
  }

  /**
   * Stops accepting connections and responds 503 to new requests on open ones. Requests in
   * progress get `connectionCloseGraceMs` to finish before idle connections are closed; a
   * request still waiting for Redis after that, at most `enqueueTimeoutMs` more, is cut
   * off. Later calls do nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listening = false;
    clearInterval(this.refreshTimer);
    const http = this.http;
    http?.stopTlsReload();

    const graceMs = this.options.connectionCloseGraceMs ?? DEFAULT_CONNECTION_CLOSE_GRACE_MS;
    const closeIdle = setTimeout(() => http?.server.closeIdleConnections(), graceMs);
    const destroyAll = setTimeout(() => {
      const open = [...(http?.sockets ?? [])];
      if (open.length > 0) {
        this.logger.warn(
          { connections: open.length, waitedMs: graceMs + this.enqueueTimeoutMs },
          "closing Webhook connections whose requests did not finish at shutdown; their senders get no answer and should retry",
        );
      }
      for (const socket of open) socket.destroy();
    }, graceMs + this.enqueueTimeoutMs);
    try {
      await this.app?.close();
    } finally {
      clearTimeout(closeIdle);
      clearTimeout(destroyAll);
    }
  }

  /**
   * Reads every route's credentials again, so a rotated Secret takes effect. A credential
   * that cannot be read is logged and the previous one stays in force.
   */
  private async refreshCredentials(): Promise<void> {
    // A tick is skipped while the previous read runs, so a slow API server does not pile up
    // reads.
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      await this.refreshRoutes();
    } finally {
      this.refreshing = false;
    }
  }

  private async refreshRoutes(): Promise<void> {
    for (const route of this.routes) {
      if (route.authenticator === undefined) continue;
      try {
        if (await route.authenticator.refresh()) {
          route.logger.info({ path: route.source.path }, "Webhook credentials changed; reloaded");
        }
      } catch (error) {
        const permit = this.refreshFailureLogLimiter.take();
        if (!permit.allowed) continue;
        route.logger.error(
          { err: error, path: route.source.path, suppressed: permit.suppressed },
          "cannot read the Webhook credentials again; the loaded ones stay in force",
        );
      }
    }
  }

  private async routeContext(route: WebhookRoute): Promise<RouteContext> {
    const { configName, source } = route;
    const labels = { config: configName, source: String(source.index) };
    const authenticator =
      source.auth === undefined
        ? undefined
        : await WebhookAuthenticator.load(source.auth, this.options.secretKeyReader);
    return {
      configName,
      source,
      identifierPath: compileIdentifierPath(source.identifierPathOnPayload),
      authenticator,
      logger: this.logger.child({ config: configName, sourceIndex: source.index }),
      count: (result) => this.options.metrics.messages.inc({ ...labels, result }),
    };
  }

  private createApp(routes: readonly RouteContext[]): FastifyInstance {
    // Fastify's own logger stays off so that requests do not log a line each; rejections
    // are logged at debug level with their reason instead.
    const [first] = routes;
    const labels = { config: first?.configName ?? "", source: String(first?.source.index ?? 0) };
    const metrics = this.options.metrics;
    const gate = new ConnectionGate({
      allowedAddresses: this.options.allowedAddresses,
      connectionLimits: this.options.connectionLimits,
      metrics,
      labels,
      logger: this.logger.child({
        config: labels.config,
        sourceIndex: first?.source.index,
        address: formatAddress(this.options.host, this.options.port),
      }),
    });
    const idleTimeouts = metrics.connectionsClosed.labels({ ...labels, reason: "idle_timeout" });
    const app = Fastify({
      logger: false,
      exposeHeadRoutes: false,
      serverFactory: (handler) => {
        this.http = createGuardedHttpServer(handler, {
          gate,
          tls: this.options.tls,
          idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
          requestTimeoutMs: this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
          openConnections: metrics.openConnections.labels(labels),
          onIdleTimeout: () => idleTimeouts.inc(),
          onClientError: (code) =>
            metrics.connectionsClosed.inc({ ...labels, reason: clientErrorReason(code) }),
        });
        return this.http.server;
      },
    });

    // Every body is read as raw bytes and parsed here, whatever its content type, so that a
    // sender that labels JSON as text/plain is still served and the errors name the path.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
      done(null, body);
    });

    // During shutdown every response closes its connection, so idle keep-alive connections
    // do not keep the process running until the last timer.
    app.addHook("onSend", async (_request, reply, payload) => {
      if (this.closed) void reply.header("connection", "close");
      return payload;
    });

    app.setErrorHandler((error, request, reply) =>
      this.handleError(error as Error & { code?: string; statusCode?: number }, request, reply),
    );
    app.setNotFoundHandler((request, reply) => {
      const paths = routes.map((route) => route.source.path).join(", ");
      void reply.code(404).send({
        error: `no Webhook source at ${request.url.split("?")[0]}; POST to ${paths}`,
      });
    });

    for (const route of routes) {
      app.route({
        method: "POST",
        url: route.source.path,
        bodyLimit: route.source.maxMessageBytes,
        config: { route },
        onRequest: async (request, reply) => {
          if (this.limitRate(route, request, reply)) return reply;
          return this.authenticate(route, request, reply);
        },
        handler: async (request, reply) => this.handlePost(route, request, reply),
      });
      app.route({
        method: ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"],
        url: route.source.path,
        handler: async (_request, reply) =>
          reply.code(405).header("allow", "POST").send({ error: "use POST" }),
      });
    }
    return app;
  }

  /**
   * Takes a token from the client's bucket. When the bucket is empty, it responds 429
   * with `Retry-After` and returns true.
   */
  private limitRate(route: RouteContext, request: FastifyRequest, reply: FastifyReply): boolean {
    const rateLimits = this.options.rateLimits;
    if (rateLimits === undefined) return false;

    const bucket = rateLimits.bucketFor(request.raw.socket.remoteAddress);
    if (bucket.take()) return false;

    const { messagesPerSecond } = rateLimits.limit;
    const retryAfterSeconds = Math.max(1, Math.ceil(bucket.msUntil(1) / 1000));
    route.count(MessageResult.RateLimited);
    route.logger.debug(
      { remoteAddress: request.ip, messagesPerSecond },
      "rejected Webhook request above the client's message rate",
    );
    void reply
      .code(429)
      .header("retry-after", String(retryAfterSeconds))
      .send({
        error:
          `this client sent more than ${messagesPerSecond} requests or identifiers per ` +
          `second (--max-messages-per-second); retry in ${retryAfterSeconds} s`,
      });
    return true;
  }

  private async authenticate(
    route: RouteContext,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    if (route.authenticator === undefined) return;
    if (route.authenticator.verify(request.headers.authorization)) return;

    route.count(MessageResult.Unauthorized);
    route.logger.debug(
      { remoteAddress: request.ip, hasAuthorization: request.headers.authorization !== undefined },
      "rejected Webhook request without valid credentials",
    );
    await reply
      .code(401)
      .header("www-authenticate", route.authenticator.challenge)
      .send({ error: "missing or invalid credentials" });
  }

  private async handlePost(
    route: RouteContext,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const receivedAt = Date.now();
    const payload = readWebhookPayload(
      request.body as Buffer | undefined,
      route.identifierPath,
      route.source.maxIdentifiersPerMessage,
    );
    this.countRejectedIdentifiers(route, payload.rejectedIdentifiers);

    if (payload.kind === "rejected") {
      route.count(payload.result);
      route.logger.debug({ result: payload.result }, "rejected Webhook request");
      return reply.code(400).send({ error: payload.message });
    }

    // The request took one token, and each further identifier costs one more, as on TCP.
    if (payload.identifiers.length > 1) {
      const bucket = this.options.rateLimits?.bucketFor(request.raw.socket.remoteAddress);
      bucket?.charge(payload.identifiers.length - 1);
    }

    const events: RotationEvent[] = payload.identifiers.map((identifier) => ({
      configName: route.configName,
      sourceType: route.source.type,
      sourceIndex: route.source.index,
      identifier,
      receivedAt,
    }));
    const jobIds = await this.store(route, events);
    if (jobIds === undefined) {
      route.count(MessageResult.Unavailable);
      return reply
        .code(503)
        .header("retry-after", String(this.retryAfterSeconds))
        .send({
          error: `Redis did not store the rotation jobs; retry in ${this.retryAfterSeconds} s`,
        });
    }

    route.count(MessageResult.Accepted);
    this.options.metrics.identifiersEnqueued.inc(
      { config: route.configName, source: String(route.source.index) },
      events.length,
    );
    this.options.metrics.enqueueLatency.observe(Math.max(0, Date.now() - receivedAt) / 1000);
    return reply.code(202).send({ jobIds });
  }

  /**
   * Adds one job per event in one `addBulk` call. Returns the job ids, or undefined when
   * the Redis connection is lost, the call fails or it takes longer than `enqueueTimeoutMs`.
   * NOTE: a call that times out may still store its jobs later. A sender that retries can
   * then queue an identifier twice, which annotates an ExternalSecret twice.
   */
  private async store(
    route: RouteContext,
    events: readonly RotationEvent[],
  ): Promise<string[] | undefined> {
    if (this.options.isRedisLost()) {
      this.logOutage(route, new Error("the Redis connection is lost"), events.length);
      return undefined;
    }

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof ENQUEUE_TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(ENQUEUE_TIMED_OUT), this.enqueueTimeoutMs);
    });
    const jobs = events.map((data) => ({
      name: ROTATION_JOB_NAME,
      data,
      opts: ROTATION_JOB_OPTIONS,
    }));
    const adding = this.options.queue.addBulk(jobs);
    try {
      const added = await Promise.race([adding, timeout]);
      if (added === ENQUEUE_TIMED_OUT) {
        adding.catch(() => undefined);
        const error = new Error(`addBulk timed out after ${this.enqueueTimeoutMs} ms`);
        this.logOutage(route, error, events.length);
        return undefined;
      }
      return added.map((job) => String(job.id));
    } catch (error) {
      this.logOutage(route, error, events.length);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private logOutage(route: RouteContext, error: unknown, identifiers: number): void {
    const permit = this.outageLogLimiter.take();
    if (!permit.allowed) return;
    route.logger.warn(
      { err: error, identifiers, suppressed: permit.suppressed },
      "Webhook request answered with 503 because Redis did not store its jobs",
    );
  }

  private countRejectedIdentifiers(route: RouteContext, reasons: readonly string[]): void {
    for (const reason of reasons) {
      this.options.metrics.rejectedIdentifiers.inc({
        config: route.configName,
        source: String(route.source.index),
        reason,
      });
    }
  }

  private handleError(
    error: Error & { code?: string; statusCode?: number },
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const route = (request.routeOptions.config as { route?: RouteContext } | undefined)?.route;
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE" && route !== undefined) {
      route.count(MessageResult.Oversize);
      route.logger.debug(
        { limit: route.source.maxMessageBytes },
        "rejected oversize Webhook request",
      );
      void reply.code(413).send({
        error:
          `the request body is larger than maxMessageBytes ` +
          `(${route.source.maxMessageBytes} bytes); send a smaller document`,
      });
      return;
    }

    const status = error.statusCode ?? 500;
    if (status >= 500) {
      this.logger.error({ err: error, url: request.url }, "Webhook request failed");
      void reply.code(500).send({ error: "internal error; see the gateway log" });
      return;
    }
    void reply.code(status).send({ error: error.message });
  }
}

/** Reason under which a connection closed by Node.js's HTTP parser is counted. */
function clientErrorReason(code: string | undefined): string {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "request_timeout";
  if (code === "HPE_HEADER_OVERFLOW") return "header_overflow";
  return "malformed_request";
}
