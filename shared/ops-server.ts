import Fastify from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { boundedIntegerFlag, stringFlag, type FlagValues } from "./cli-options.js";
import { UsageError } from "./errors.js";

/** Options of the operations HTTP server. */
export interface OpsServerOptions {
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Returns the reasons the process is not ready; an empty list means ready. */
  readonly readiness: () => Promise<string[]> | string[];
}

/**
 * Serves `/healthz` (the process runs), `/readyz` (it can do its work: 503 lists why not)
 * and `/metrics` (Prometheus text format) for probes and scrapers.
 */
export class OpsServer {
  private readonly app: ReturnType<typeof createApp>;
  private closed = false;

  constructor(private readonly options: OpsServerOptions) {
    this.app = createApp(options);
  }

  /** Binds the port and returns the listening URL. */
  async start(): Promise<string> {
    const { host, port } = this.options;
    try {
      return await this.app.listen({ host, port });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new UsageError(
        `cannot listen on ${host}:${port} for /healthz, /readyz and /metrics (${code}); ` +
          "pick another --http-port, or 0 to turn the HTTP server off",
      );
    }
  }

  /** Returns the bound TCP port once started. */
  port(): number {
    const address = this.app.server.address();
    return typeof address === "object" && address !== null ? address.port : this.options.port;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.app.close();
  }
}

function createApp(options: OpsServerOptions) {
  // Fastify's own logger stays off so probes and scrapes do not log a line each; failures
  // are logged below instead.
  const app = Fastify({ logger: false });
  const logger = options.logger.child({ component: "http" });
  app.setErrorHandler((error, request, reply) => {
    logger.error({ err: error, url: request.url }, "http request failed");
    void reply.code(500).send({ status: "error", message: (error as Error).message });
  });
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const reasons = await options.readiness();
    if (reasons.length > 0) return reply.code(503).send({ status: "not ready", reasons });
    return { status: "ready" };
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(body);
  });
  return app;
}

/**
 * Creates the operations server from the `--http-port` and `--http-host` flags, or returns
 * undefined when the port is 0 (turned off).
 */
export function opsServerFromFlags(
  flags: FlagValues,
  defaultPort: number,
  options: Omit<OpsServerOptions, "host" | "port">,
): OpsServer | undefined {
  const port = boundedIntegerFlag(flags, "http-port", defaultPort, { minimum: 0, maximum: 65535 });
  if (port === 0) return undefined;
  return new OpsServer({ ...options, host: stringFlag(flags, "http-host") ?? "0.0.0.0", port });
}
