import type { Logger } from "pino";
import { ReloaderError } from "./errors.js";

/** A long-lived part of a process. */
export interface Service {
  start(): Promise<void>;
  /** Stops the part; safe to call twice. */
  close(): Promise<void>;
}

/** Options of `runService`. */
export interface RunOptions {
  readonly logger: Logger;
  readonly service: Service;
  /** Time allowed for `close()` after SIGTERM before the process exits with status 1, in ms. */
  readonly shutdownTimeoutMs?: number;
}

/**
 * Starts `service` and stops it on SIGTERM, SIGINT, SIGHUP or the loss of the launcher that
 * started it, exiting 0 after a clean stop. A second signal, or a stop that outlasts
 * `shutdownTimeoutMs`, exits 1 at once.
 */
export async function runService(options: RunOptions): Promise<void> {
  const { logger, service } = options;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
  let stopping = false;

  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal during shutdown; exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");

    const timer = setTimeout(() => {
      logger.error({ shutdownTimeoutMs }, "shutdown timed out; exiting");
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();

    service.close().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };

  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => stop("SIGHUP"));

  // A tier started by a launcher (npm start, the demo, the tests) has an IPC channel to it.
  // When the launcher dies without stopping the tier, the channel closes: stop too, so no
  // orphan keeps the ports and Redis connections.
  if (process.channel !== undefined) {
    process.channel.unref();
    process.on("disconnect", () => stop("parent exited"));
  }

  try {
    await service.start();
  } catch (error) {
    logger.error({ err: error }, "start failed");
    await service.close().catch(() => undefined);
    process.exit(1);
  }
}

/**
 * Prints a start-up error the way an operator needs it: a `ReloaderError` as its message
 * alone (it already names the value and the fix), anything else with its stack.
 */
export function reportFatal(error: unknown): never {
  if (error instanceof ReloaderError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
}

/** One named step of a shutdown. */
export type ShutdownStep = readonly [name: string, run: () => Promise<unknown> | undefined];

/**
 * Runs every shutdown step in order, even when an earlier one fails, logging each failure.
 * Throws an `AggregateError` of the failures after the last step, naming `component`.
 */
export async function runShutdownSteps(
  component: string,
  steps: readonly ShutdownStep[],
  logger: Logger,
): Promise<void> {
  const errors: Error[] = [];
  for (const [step, run] of steps) {
    try {
      await run();
    } catch (error) {
      logger.error({ err: error, step }, `${component} shutdown step failed; continuing`);
      errors.push(error instanceof Error ? error : new Error(String(error)));
    }
  }

  logger.info({ failedSteps: errors.length }, `${component} stopped`);
  if (errors.length > 0) {
    throw new AggregateError(errors, `${component} shutdown: ${errors.length} step(s) failed`);
  }
}
