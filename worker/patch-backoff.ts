import type { BackoffStrategy, JobsOptions, MinimalJob } from "bullmq";

import { PATCH_JOB_OPTIONS } from "../shared/queue-contract.js";

/**
 * Retry timing of patch jobs: BullMQ's exponential backoff with jitter, stretched to at
 * least the `Retry-After` time the API server asked for.
 *
 * BullMQ calls a worker's custom backoff strategy only for backoff types it does not
 * define itself, so patch jobs carry their own type name, {@link PATCH_BACKOFF_TYPE}, and
 * the patch worker registers {@link patchBackoffStrategy} for it.
 */

/** Backoff type of patch jobs; only a worker with {@link patchBackoffStrategy} can retry them. */
export const PATCH_BACKOFF_TYPE = "exponential-retry-after";

/** Raised by the patch processor for a failure that the same request may overcome later. */
export class RetryablePatchError extends Error {
  /** Minimum wait before the next attempt in ms, from `Retry-After`; `undefined` when the server sent none. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, retryAfterMs: number | undefined) {
    super(message);
    this.name = "RetryablePatchError";
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Returns the delay before retry number `attemptsMade` (1 for the first retry), in ms.
 * The exponential part is `delay * 2^(attemptsMade - 1)`, of which a random share of up to
 * `jitter` (0 to 1) is taken off, as BullMQ's built-in `exponential` type does. The result
 * is never below `retryAfterMs`.
 */
export function computePatchRetryDelay(
  attemptsMade: number,
  delayMs: number,
  jitter: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const maxDelay = Math.round(2 ** (attemptsMade - 1) * delayMs);
  const exponential =
    jitter > 0 ? Math.floor(maxDelay * (1 - jitter) + random() * maxDelay * jitter) : maxDelay;
  return Math.max(exponential, retryAfterMs ?? 0);
}

/**
 * BullMQ backoff strategy for {@link PATCH_BACKOFF_TYPE}. Reads the base delay and jitter
 * from the job's `backoff` option and the `Retry-After` time from a
 * {@link RetryablePatchError}.
 */
export const patchBackoffStrategy: BackoffStrategy = (
  attemptsMade: number,
  _type?: string,
  error?: Error,
  job?: MinimalJob,
): number => {
  const { delay, jitter } = readBackoffSettings(job?.opts.backoff);
  const retryAfterMs = error instanceof RetryablePatchError ? error.retryAfterMs : undefined;
  return computePatchRetryDelay(attemptsMade, delay, jitter, retryAfterMs);
};

/**
 * Returns the options of patch jobs: `PATCH_JOB_OPTIONS` with `overrides` applied on top,
 * and the backoff type switched to {@link PATCH_BACKOFF_TYPE}. The resulting backoff is
 * always exponential from the merged `delay` (ms) and `jitter`.
 */
export function createPatchJobOptions(overrides: JobsOptions = {}): JobsOptions {
  const merged: JobsOptions = { ...PATCH_JOB_OPTIONS, ...overrides };
  const { delay, jitter } = readBackoffSettings(merged.backoff);
  return { ...merged, backoff: { type: PATCH_BACKOFF_TYPE, delay, jitter } };
}

/** Reads delay (ms) and jitter from a BullMQ `backoff` option, which may be a bare delay. */
function readBackoffSettings(backoff: JobsOptions["backoff"]): { delay: number; jitter: number } {
  if (typeof backoff === "number") {
    return { delay: backoff, jitter: 0 };
  }

  return { delay: backoff?.delay ?? 0, jitter: backoff?.jitter ?? 0 };
}
