import { pino } from "pino";

import type { Logger } from "../../../shared/logger.js";

/** A pino logger that keeps every line in memory, parsed, for assertions. */
export interface MemoryLogger {
  readonly logger: Logger;
  /** Every line written so far, as parsed JSON objects. */
  readonly entries: Array<Record<string, unknown>>;
}

/** Creates a {@link MemoryLogger} at level `debug`. */
export function createMemoryLogger(): MemoryLogger {
  const entries: Array<Record<string, unknown>> = [];
  const destination = {
    write(line: string): void {
      entries.push(JSON.parse(line) as Record<string, unknown>);
    },
  };

  return { logger: pino({ level: "debug" }, destination), entries };
}

/** pino's numeric level of `warn`. */
export const WARN_LEVEL = 40;
