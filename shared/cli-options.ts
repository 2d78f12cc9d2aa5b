import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";
import { DEFAULT_QUEUE_PREFIX } from "./queue-contract.js";
import { DEFAULT_REDIS_URL } from "./redis-connection.js";

/** One command-line flag, with the environment variable that can set it instead. */
export interface FlagSpec {
  readonly name: string;
  readonly env?: string;
  readonly description: string;
  readonly defaultValue?: string;
  /** Whether the flag may be given more than once. */
  readonly multiple?: boolean;
}

/** Flags both tiers take. */
export const COMMON_FLAGS: readonly FlagSpec[] = [
  {
    name: "config",
    env: "CONFIG_FILE",
    description:
      "YAML file of one or more Config documents; repeat the flag, or separate files with commas in the variable",
    multiple: true,
  },
  {
    name: "redis-url",
    env: "REDIS_URL",
    description: "Redis holding the queues",
    defaultValue: DEFAULT_REDIS_URL,
  },
  {
    name: "queue-prefix",
    env: "QUEUE_PREFIX",
    description: "key prefix of the queues, so two installations can share one Redis",
    defaultValue: DEFAULT_QUEUE_PREFIX,
  },
  {
    name: "http-port",
    env: "HTTP_PORT",
    description: "port of /healthz, /readyz and /metrics; 0 turns the HTTP server off",
  },
  {
    name: "http-host",
    env: "HTTP_HOST",
    description: "address of the HTTP server",
    defaultValue: "0.0.0.0",
  },
  { name: "log-level", env: "LOG_LEVEL", description: "pino log level", defaultValue: "info" },
];

/** Values of the flags after command line, environment and defaults are merged. */
export type FlagValues = Record<string, string | string[] | undefined>;

/** Formats `--help` output: every flag with its variable and default. */
export function formatHelp(usage: string, flags: readonly FlagSpec[]): string {
  const lines = [usage, "", "Options (a flag wins over its environment variable):"];
  for (const flag of flags) {
    const env = flag.env ? ` (env ${flag.env})` : "";
    const fallback = flag.defaultValue !== undefined ? ` [default: ${flag.defaultValue}]` : "";
    lines.push(`  --${flag.name} VALUE${env}`, `      ${flag.description}${fallback}`);
  }
  lines.push("  --help", "      print this help and exit");
  return lines.join("\n");
}

/**
 * Parses `argv` against `flags`. Returns undefined when `--help` was given. Unknown flags
 * raise a `UsageError` that names the flag.
 */
export function parseFlags(
  argv: readonly string[],
  flags: readonly FlagSpec[],
  env: NodeJS.ProcessEnv = process.env,
): FlagValues | undefined {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
  };
  for (const flag of flags) {
    options[flag.name] = { type: "string", multiple: flag.multiple === true };
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; run with --help to list the options`);
  }
  if (parsed.values.help === true) return undefined;

  const values: FlagValues = {};
  for (const flag of flags) {
    const given = parsed.values[flag.name] as string | string[] | undefined;
    const fromEnv = flag.env ? env[flag.env] : undefined;
    if (given !== undefined) values[flag.name] = given;
    else if (fromEnv !== undefined && fromEnv !== "") {
      values[flag.name] = flag.multiple ? fromEnv.split(",").map((part) => part.trim()) : fromEnv;
    } else values[flag.name] = flag.defaultValue;
  }
  return values;
}

/** Reads a flag that must be a single string. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return Array.isArray(value) ? value.at(-1) : value;
}

/** Reads a flag that must be a non-negative integer, naming the flag when it is not. */
export function integerFlag(values: FlagValues, name: string, fallback: number): number {
  const text = stringFlag(values, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Reads the list of Config files, which every tier requires. */
export function configFiles(values: FlagValues): string[] {
  const value = values.config ?? [];
  const listed = Array.isArray(value) ? value : [value];
  const files = listed.filter((file) => file !== "");
  if (files.length === 0) {
    throw new UsageError("no Config file given; pass --config FILE or set CONFIG_FILE");
  }
  return files;
}

/** Reads a flag that must be an integer in `[minimum, maximum]`, naming the flag when not. */
export function boundedIntegerFlag(
  values: FlagValues,
  name: string,
  fallback: number,
  range: { minimum: number; maximum: number },
): number {
  const value = integerFlag(values, name, fallback);
  if (value < range.minimum || value > range.maximum) {
    throw new UsageError(
      `--${name} must be an integer from ${range.minimum} to ${range.maximum}, got ${value}`,
    );
  }
  return value;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Reads `--log-level`, which must be one of pino's levels. */
export function logLevelFlag(values: FlagValues): string {
  const level = stringFlag(values, "log-level") ?? "info";
  if (!LOG_LEVELS.includes(level)) {
    throw new UsageError(
      `--log-level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`,
    );
  }
  return level;
}

/** Reads `--redis-url`, which must be a `redis://` or `rediss://` URL. */
export function redisUrlFlag(values: FlagValues): string {
  const text = stringFlag(values, "redis-url") ?? DEFAULT_REDIS_URL;
  let protocol: string | undefined;
  try {
    protocol = new URL(text).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "redis:" && protocol !== "rediss:") {
    throw new UsageError(
      `--redis-url (REDIS_URL) must be a redis:// or rediss:// URL such as ` +
        `${DEFAULT_REDIS_URL}, got ${JSON.stringify(text)}`,
    );
  }
  return text;
}
