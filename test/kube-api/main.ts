import { parseArgs } from "node:util";

import { pino } from "pino";

import { startKubeApiEmulator, type KubeApiEmulatorOptions } from "./emulator.js";

const usage = `Usage: node dist/test/kube-api/main.js [options]

Serves the Kubernetes REST API for Namespaces, ConfigMaps, Secrets and
external-secrets.io/v1 ExternalSecrets from memory, over plain HTTP with no
authentication. Prints one line with the URL to stdout once it accepts
requests; logs go to stderr. SIGTERM or SIGINT stops it with exit code 0.

Options:
  --port PORT              TCP port to listen on; 0 picks a free port (default: 0)
  --host ADDRESS           address to bind (default: 127.0.0.1)
  --load FILE              multi-document YAML file of objects to create at start;
                           repeat the flag to load several files in order
  --kubeconfig FILE        write a kubeconfig for kubectl and client-node that
                           points at the emulator
  --history-limit N        number of changes kept for watches to resume from;
                           older resourceVersions get 410 Gone (default: 1000)
  --bookmark-interval-ms N interval between BOOKMARK events on watches that ask
                           for them, in milliseconds (default: 60000)
  --log-level LEVEL        trace, debug, info, warn, error, fatal or silent
                           (default: info)
  --help                   print this help and exit
`;

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

class UsageError extends Error {}

function parseInteger(
  flag: string,
  value: string | undefined,
  minimum: number,
): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(value) || Number(value) < minimum) {
    throw new UsageError(`--${flag} must be an integer of at least ${minimum}, got "${value}"`);
  }
  return Number(value);
}

function parseCommandLine(args: string[]): {
  options: KubeApiEmulatorOptions;
  kubeconfig?: string;
  logLevel: string;
  help: boolean;
} {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        load: { type: "string", multiple: true },
        kubeconfig: { type: "string" },
        "history-limit": { type: "string" },
        "bookmark-interval-ms": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  const { values } = parsed;
  const port = parseInteger("port", values.port, 0);
  if (port !== undefined && port > 65535) {
    throw new UsageError(`--port must be at most 65535, got ${port}`);
  }
  const logLevel = values["log-level"] ?? "info";
  if (!logLevels.includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${logLevels.join(", ")}, got "${logLevel}"`);
  }

  const options: KubeApiEmulatorOptions = { load: values.load ?? [] };
  const optional = {
    port,
    host: values.host,
    historyLimit: parseInteger("history-limit", values["history-limit"], 1),
    bookmarkIntervalMs: parseInteger("bookmark-interval-ms", values["bookmark-interval-ms"], 1),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) {
      Object.assign(options, { [key]: value });
    }
  }

  const result = { options, logLevel, help: values.help ?? false };
  return values.kubeconfig === undefined ? result : { ...result, kubeconfig: values.kubeconfig };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);

  let commandLine;
  try {
    commandLine = parseCommandLine(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`kube-api: ${error.message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
  if (commandLine.help) {
    process.stdout.write(usage);
    return 0;
  }

  const logger = pino({ name: "kube-api", level: commandLine.logLevel }, pino.destination(2));
  let emulator;
  try {
    emulator = await startKubeApiEmulator({ ...commandLine.options, logger });
    if (commandLine.kubeconfig !== undefined) {
      await emulator.writeKubeconfig(commandLine.kubeconfig);
      logger.info({ path: commandLine.kubeconfig }, "wrote kubeconfig");
    }
  } catch (error) {
    logger.error({ err: error }, "kube-api emulator failed to start");
    await emulator?.close();
    process.stderr.write(`kube-api: ${(error as Error).message}\n`);
    return 1;
  }

  const running = emulator;
  process.stdout.write(`kube-api emulator listening on ${running.url}\n`);

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, "stopping kube-api emulator");
      void running.close().then(() => resolve(0));
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

process.exitCode = await main();
