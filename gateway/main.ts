import {
  boundedIntegerFlag,
  COMMON_FLAGS,
  configFiles,
  formatHelp,
  logLevelFlag,
  redisUrlFlag,
  parseFlags,
  stringFlag,
  type FlagSpec,
} from "../shared/cli-options.js";
import { loadConfigFiles } from "../shared/config-loader.js";
import { createLogger } from "../shared/logger.js";
import { createMetricsRegistry } from "../shared/metrics.js";
import { opsServerFromFlags } from "../shared/ops-server.js";
import { reportFatal, runService, type Service } from "../shared/process-lifecycle.js";
import { Gateway } from "./gateway.js";
import {
  GATEWAY_SECURITY_FLAGS,
  gatewaySecurityOptions,
  secretKeyReaderFromFlags,
  WEBHOOK_CREDENTIAL_FLAGS,
} from "./gateway-flags.js";
import {
  DEFAULT_COALESCE_WINDOW_MS,
  DEFAULT_MAX_PENDING_IDENTIFIERS,
} from "./rotation-enqueuer.js";
import { DEFAULT_CONNECTION_CLOSE_GRACE_MS } from "./tcp-source.js";

/** Port of the gateway's /healthz, /readyz and /metrics when `--http-port` is unset. */
const DEFAULT_HTTP_PORT = 8080;

const FLAGS: readonly FlagSpec[] = [
  ...COMMON_FLAGS.map((flag) =>
    flag.name === "http-port" ? { ...flag, defaultValue: String(DEFAULT_HTTP_PORT) } : flag,
  ),
  {
    name: "coalesce-window-ms",
    env: "COALESCE_WINDOW_MS",
    description:
      "milliseconds an identifier from a TCP source waits after its first trigger, 0-3600000; triggers of it within the window become one job. Webhook requests are stored at once",
    defaultValue: String(DEFAULT_COALESCE_WINDOW_MS),
  },
  {
    name: "max-pending-identifiers",
    env: "MAX_PENDING_IDENTIFIERS",
    description:
      "identifiers held in memory while Redis is slow or unreachable; past it new ones are shed",
    defaultValue: String(DEFAULT_MAX_PENDING_IDENTIFIERS),
  },
  {
    name: "shutdown-grace-ms",
    env: "SHUTDOWN_GRACE_MS",
    description:
      "milliseconds open connections are still read after SIGTERM, which half-closes them at once, before they are closed, 0-600000",
    defaultValue: String(DEFAULT_CONNECTION_CLOSE_GRACE_MS),
  },
  ...GATEWAY_SECURITY_FLAGS,
  ...WEBHOOK_CREDENTIAL_FLAGS,
];

const USAGE = `Usage: npm run gateway -- --config FILE [options]

Listens on every TCPSocket and HashicorpVault source and serves every Webhook source of
the Configs over HTTP, and queues one rotation event in Redis for each secret identifier
read.`;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags === undefined) {
    process.stdout.write(`${formatHelp(USAGE, FLAGS)}\n`);
    return;
  }

  const security = gatewaySecurityOptions(flags);
  const configs = await loadConfigFiles(configFiles(flags));
  const logger = createLogger({ name: "gateway", level: logLevelFlag(flags) });
  const registry = createMetricsRegistry();

  // The gateway opens its own Redis connection: it fails commands after a few retries, so
  // an outage surfaces as logged, retried flushes instead of silently waiting commands.
  const gateway = new Gateway({
    configs,
    redisUrl: redisUrlFlag(flags),
    prefix: stringFlag(flags, "queue-prefix"),
    ...security,
    secretKeyReader: secretKeyReaderFromFlags(flags, configs),
    logger,
    registry,
    enqueuer: {
      coalesceWindowMs: boundedIntegerFlag(
        flags,
        "coalesce-window-ms",
        DEFAULT_COALESCE_WINDOW_MS,
        { minimum: 0, maximum: 3_600_000 },
      ),
      maxPendingIdentifiers: boundedIntegerFlag(
        flags,
        "max-pending-identifiers",
        DEFAULT_MAX_PENDING_IDENTIFIERS,
        { minimum: 1, maximum: 10_000_000 },
      ),
    },
    connectionCloseGraceMs: boundedIntegerFlag(
      flags,
      "shutdown-grace-ms",
      DEFAULT_CONNECTION_CLOSE_GRACE_MS,
      { minimum: 0, maximum: 600_000 },
    ),
  });

  const ops = opsServerFromFlags(flags, DEFAULT_HTTP_PORT, {
    registry,
    logger,
    readiness: () => gateway.readinessProblems(),
  });

  const service: Service = {
    async start() {
      await gateway.start();
      if (ops) logger.info({ url: await ops.start() }, "http server listening");
      logger.info({ sources: gateway.addresses() }, "ready");
    },
    async close() {
      // Senders are drained before the probes go away, so readiness reflects the shutdown.
      const results = await Promise.allSettled([gateway.close()]);
      results.push(...(await Promise.allSettled([ops?.close()])));
      const failure = results.find((result) => result.status === "rejected");
      if (failure) throw failure.reason;
    },
  };
  await runService({ logger, service });
}

main().catch(reportFatal);
