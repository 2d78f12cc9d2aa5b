import { pino, type Logger } from "pino";
import { StdoutDestination } from "./log-destination.js";

export type { Logger } from "pino";

/** Options of the root logger. */
export interface LoggerOptions {
  /** Process role written on every line, such as `gateway` or `worker`. */
  readonly name: string;
  /** pino level; defaults to `LOG_LEVEL` or `info`. */
  readonly level?: string;
}

/**
 * Creates the root JSON logger of a process. Authorization headers and tokens are redacted
 * wherever they appear in a logged object.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "req.headers.authorization",
          "headers.authorization",
          "*.token",
          "*.password",
          "token",
          "password",
        ],
        censor: "[redacted]",
      },
    },
    new StdoutDestination(),
  );
}
