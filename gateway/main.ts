import {
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

/** Port of the gateway's /healthz, /readyz and /metrics when `--http-port` is unset. */
const DEFAULT_HTTP_PORT = 8080;

const FLAGS: readonly FlagSpec[] = COMMON_FLAGS.map((flag) =>
  flag.name === "http-port" ? { ...flag, defaultValue: String(DEFAULT_HTTP_PORT) } : flag,
);

const USAGE = `Usage: npm run gateway -- --config FILE [options]

Listens on every TCPSocket and HashicorpVault source of the Configs and queues one
rotation event in Redis for each secret identifier read.`;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags === undefined) {
    process.stdout.write(`${formatHelp(USAGE, FLAGS)}\n`);
    return;
  }

  const configs = await loadConfigFiles(configFiles(flags));
  const logger = createLogger({ name: "gateway", level: logLevelFlag(flags) });
  const registry = createMetricsRegistry();

  // The gateway opens its own Redis connection: it fails commands after a few retries, so
  // an outage surfaces as logged, retried flushes instead of silently waiting commands.
  const gateway = new Gateway({
    configs,
    redisUrl: redisUrlFlag(flags),
    prefix: stringFlag(flags, "queue-prefix"),
    logger,
    registry,
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
