import { Registry, collectDefaultMetrics } from "prom-client";
import {
  COMMON_FLAGS,
  configFiles,
  formatHelp,
  boundedIntegerFlag,
  logLevelFlag,
  redisUrlFlag,
  parseFlags,
  stringFlag,
  type FlagSpec,
} from "../shared/cli-options.js";
import { loadConfigFiles } from "../shared/config-loader.js";
import { createLogger } from "../shared/logger.js";
import { opsServerFromFlags } from "../shared/ops-server.js";
import { reportFatal, runService, type Service } from "../shared/process-lifecycle.js";
import { createRedisConnection, reportRedisOutages } from "../shared/redis-connection.js";
import { loadClusterCredentials } from "../shared/cluster-credentials.js";
import {
  DEFAULT_PATCH_CONCURRENCY,
  DEFAULT_ROTATION_CONCURRENCY,
  ReconcileWorker,
} from "./reconcile-worker.js";

/** Allowed range of both concurrency flags. */
const CONCURRENCY_RANGE = { minimum: 1, maximum: 1000 };

/** Port of the worker's /healthz, /readyz and /metrics when `--http-port` is unset. */
const DEFAULT_HTTP_PORT = 8081;

const FLAGS: readonly FlagSpec[] = [
  ...COMMON_FLAGS.map((flag) =>
    flag.name === "http-port" ? { ...flag, defaultValue: String(DEFAULT_HTTP_PORT) } : flag,
  ),
  {
    name: "rotation-concurrency",
    env: "ROTATION_CONCURRENCY",
    description: "rotation events resolved in parallel",
    defaultValue: String(DEFAULT_ROTATION_CONCURRENCY),
  },
  {
    name: "patch-concurrency",
    env: "PATCH_CONCURRENCY",
    description: "ExternalSecret patches sent in parallel",
    defaultValue: String(DEFAULT_PATCH_CONCURRENCY),
  },
];

const USAGE = `Usage: npm run worker -- --config FILE [options]

Consumes rotation events from Redis and annotates every ExternalSecret that references
the identifier. Reads the cluster from KUBECONFIG, ~/.kube/config or the in-cluster
service account, in that order.`;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  if (flags === undefined) {
    process.stdout.write(`${formatHelp(USAGE, FLAGS)}\n`);
    return;
  }

  const configs = await loadConfigFiles(configFiles(flags));
  const { kubeConfig, source } = loadClusterCredentials(
    "set KUBECONFIG or run the worker in a pod",
  );
  const logger = createLogger({ name: "worker", level: logLevelFlag(flags) });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const redisUrl = redisUrlFlag(flags);
  const connection = createRedisConnection(redisUrl);
  reportRedisOutages(connection, logger.child({ redisUrl }));

  const worker = new ReconcileWorker({
    configs,
    kubeConfig,
    connection,
    prefix: stringFlag(flags, "queue-prefix"),
    logger,
    registry,
    rotationConcurrency: boundedIntegerFlag(
      flags,
      "rotation-concurrency",
      DEFAULT_ROTATION_CONCURRENCY,
      CONCURRENCY_RANGE,
    ),
    patchConcurrency: boundedIntegerFlag(
      flags,
      "patch-concurrency",
      DEFAULT_PATCH_CONCURRENCY,
      CONCURRENCY_RANGE,
    ),
  });

  const ops = opsServerFromFlags(flags, DEFAULT_HTTP_PORT, {
    registry,
    logger,
    readiness: () => {
      const reasons = worker.isCacheSynced ? [] : ["cluster cache not synced"];
      if (connection.status !== "ready") {
        reasons.push(`Redis is not reachable (connection status: ${connection.status})`);
      }
      return reasons;
    },
  });

  const cluster = kubeConfig.getCurrentCluster()?.server;
  const service: Service = {
    async start() {
      if (ops) logger.info({ url: await ops.start() }, "http server listening");
      await worker.start();
      logger.info(
        { cluster, credentials: source, externalSecrets: worker.externalSecretCount },
        "ready",
      );
    },
    async close() {
      const results = await Promise.allSettled([worker.close(), ops?.close()]);
      connection.disconnect();
      const failure = results.find((result) => result.status === "rejected");
      if (failure) throw failure.reason;
    },
  };
  await runService({ logger, service });
}

main().catch(reportFatal);
