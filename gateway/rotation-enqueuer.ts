import { setTimeout as sleep } from "node:timers/promises";
import type { Queue } from "bullmq";
import type { Logger } from "../shared/logger.js";
import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import type { GatewayMetrics } from "../shared/metrics.js";
import { ROTATION_JOB_OPTIONS, type RotationEvent } from "../shared/queue-contract.js";
import { PendingAddResult, PendingIdentifiers } from "./pending-identifiers.js";

/** BullMQ job name of rotation events. Workers read `job.data` and ignore the name. */
export const ROTATION_JOB_NAME = "rotation-event";

/** Default coalescing window, in ms: long enough for a burst, short next to ESO's own sync. */
export const DEFAULT_COALESCE_WINDOW_MS = 200;

/**
 * Default bound of identifiers waiting in memory. One with a 35-character identifier took
 * 328 bytes of heap on Node.js 20 (measured), so a full bound uses about 33 MB.
 */
export const DEFAULT_MAX_PENDING_IDENTIFIERS = 100_000;

const STORED = Symbol("stored");
const DEADLINE = Symbol("deadline");

/** Identifiers listed in the error log of a batch lost at shutdown; the count is complete. */
const MAX_LOGGED_IDENTIFIERS = 100;

/** The subset of a BullMQ `Queue` the enqueuer uses, so tests can replace Redis. */
export type RotationQueue = Pick<Queue<RotationEvent>, "addBulk">;

/** Options of a `RotationEnqueuer`. */
export interface RotationEnqueuerOptions {
  readonly queue: RotationQueue;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /**
   * Minimum time in ms an identifier waits, so that others share its `addBulk` call.
   * Default 5.
   */
  readonly flushDelayMs?: number;
  /**
   * Time in ms an identifier waits after its first trigger; triggers of the same Config and
   * identifier within it become one job. Default `DEFAULT_COALESCE_WINDOW_MS` (200).
   */
  readonly coalesceWindowMs?: number;
  /**
   * Maximum identifiers waiting in memory, for example while Redis is unreachable. Past it,
   * new identifiers are shed and counted. Default `DEFAULT_MAX_PENDING_IDENTIFIERS` (100000).
   */
  readonly maxPendingIdentifiers?: number;
  /** Maximum jobs per `addBulk` call. Default 500. */
  readonly maxBatchSize?: number;
  /** Delay in ms before the first retry of a failed `addBulk`; it doubles per attempt. Default 100. */
  readonly retryBaseDelayMs?: number;
  /** Maximum delay in ms between retries. Default 5000. */
  readonly retryMaxDelayMs?: number;
  /**
   * Time in ms that `close()` keeps sending and retrying before it gives up on the batches
   * left and logs their identifiers as an error. Default 10 000.
   */
  readonly closeTimeoutMs?: number;
}

/**
 * Adds rotation jobs to Redis in batches, so that reading a socket never waits for Redis.
 * `enqueue()` only records the identifier in memory (see `PendingIdentifiers`: coalesced
 * per Config and identifier, bounded, shed past the bound). One `addBulk` call is in flight
 * at a time, which keeps jobs in the order their windows ended. A failed call is retried
 * with exponential backoff until it succeeds or `close()` runs out of time.
 *
 * Delivery is at least once: when Redis stores a batch but the reply is lost, the retry adds
 * those jobs again. Annotating an ExternalSecret twice for one rotation is harmless.
 */
export class RotationEnqueuer {
  private readonly queue: RotationQueue;
  private readonly logger: Logger;
  private readonly metrics: GatewayMetrics;
  private readonly maxBatchSize: number;
  private readonly shedWarnings = new LogRateLimiter(1, 10_000);
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly closeTimeoutMs: number;

  private readonly pending: PendingIdentifiers;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private deadlinePassed = false;
  /** Identifiers given up at the shutdown deadline; `close()` rejects when any were. */
  private lostIdentifiers = 0;
  private passDeadline: () => void = () => undefined;
  /** Resolves `closeTimeoutMs` after `close()` starts; pending calls and retries race it. */
  private readonly deadline = new Promise<typeof DEADLINE>((resolve) => {
    this.passDeadline = () => {
      this.deadlinePassed = true;
      resolve(DEADLINE);
    };
  });

  constructor(options: RotationEnqueuerOptions) {
    this.queue = options.queue;
    this.logger = options.logger;
    this.metrics = options.metrics;
    const windowMs = Math.max(
      options.coalesceWindowMs ?? DEFAULT_COALESCE_WINDOW_MS,
      options.flushDelayMs ?? 5,
    );
    this.pending = new PendingIdentifiers(
      windowMs,
      options.maxPendingIdentifiers ?? DEFAULT_MAX_PENDING_IDENTIFIERS,
    );
    this.maxBatchSize = options.maxBatchSize ?? 500;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 5000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  }

  /** Identifiers waiting for `addBulk` plus those in the call in flight. */
  get backlog(): number {
    return this.pending.size + this.inFlight;
  }

  /** Tells whether the bound of waiting identifiers is reached, so new ones are shed. */
  get full(): boolean {
    return this.pending.full;
  }

  /**
   * Queues one rotation event for the next batch.
   *
   * @throws Error after `close()`, because the queue may already be closed.
   */
  enqueue(event: RotationEvent): void {
    if (this.closePromise !== undefined) {
      throw new Error(
        `cannot enqueue identifier for Config ${event.configName} after the enqueuer was closed`,
      );
    }
    const result = this.pending.add(event, performance.now());
    const labels = { config: event.configName, source: String(event.sourceIndex) };
    if (result === PendingAddResult.Coalesced) this.metrics.identifiersCoalesced.inc(labels);
    if (result === PendingAddResult.Shed) this.recordShed(event, labels);
    this.metrics.pendingIdentifiers.set(this.backlog);

    if (this.timer === undefined && this.flushing === undefined) this.scheduleFlush();
  }

  private recordShed(event: RotationEvent, labels: { config: string; source: string }): void {
    this.metrics.identifiersShed.inc(labels);
    const permit = this.shedWarnings.take();
    if (!permit.allowed) return;
    this.logger.warn(
      {
        configName: event.configName,
        sourceIndex: event.sourceIndex,
        pendingIdentifiers: this.pending.size,
        suppressedWarnings: permit.suppressed,
      },
      "maxPendingIdentifiers reached: identifiers arrive faster than Redis stores them, " +
        "or Redis is unreachable; shedding new ones",
    );
  }

  /** Starts the flush when the oldest waiting identifier's window ends. */
  private scheduleFlush(): void {
    const dueAt = this.pending.nextDueAt();
    if (dueAt === undefined) return;
    const delayMs = Math.max(0, dueAt - performance.now());
    this.timer = setTimeout(() => this.startFlush(), delayMs);
  }

  /**
   * Sends everything queued, retrying failed batches for up to `closeTimeoutMs`. Rejects
   * when batches were given up at that deadline. Later calls return the same promise. Does
   * not close the queue.
   */
  close(): Promise<void> {
    this.closePromise ??= this.flushForClose();
    return this.closePromise;
  }

  private async flushForClose(): Promise<void> {
    const timer = setTimeout(() => this.passDeadline(), this.closeTimeoutMs);
    this.startFlush();
    while (this.flushing !== undefined) await this.flushing;
    clearTimeout(timer);

    if (this.lostIdentifiers > 0) {
      throw new Error(
        `${this.lostIdentifiers} identifier(s) were not stored in Redis before the shutdown ` +
          "deadline; rotate those secrets again",
      );
    }
  }

  private startFlush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing !== undefined || this.pending.size === 0) return;

    this.flushing = this.sendPending()
      .catch((error: unknown) => {
        // sendWithRetry handles Redis errors, so this is a bug in the enqueuer itself.
        this.logger.error(
          { err: error, lostIdentifiers: this.inFlight },
          "internal error while sending rotation jobs",
        );
        this.lostIdentifiers += this.inFlight;
        this.inFlight = 0;
        this.metrics.pendingIdentifiers.set(this.backlog);
      })
      .finally(() => {
        this.flushing = undefined;
        // Identifiers added while the last batch was in flight wait for their own window.
        if (this.closePromise !== undefined) this.startFlush();
        else this.scheduleFlush();
      });
  }

  /** Sends the identifiers whose window has ended; at shutdown, every identifier. */
  private async sendPending(): Promise<void> {
    for (;;) {
      const closing = this.closePromise !== undefined;
      const batch = this.pending.take(performance.now(), this.maxBatchSize, closing);
      if (batch.length === 0) return;

      this.inFlight = batch.length;
      this.metrics.pendingIdentifiers.set(this.backlog);
      await this.sendWithRetry(batch);
      this.inFlight = 0;
      this.metrics.pendingIdentifiers.set(this.backlog);
    }
  }

  private async sendWithRetry(batch: RotationEvent[]): Promise<void> {
    const jobs = batch.map((data) => ({
      name: ROTATION_JOB_NAME,
      data,
      opts: ROTATION_JOB_OPTIONS,
    }));

    for (let attempt = 1; ; attempt++) {
      // A rejection becomes a value, so a call still running after the deadline cannot
      // reject unhandled later.
      const call = this.queue.addBulk(jobs).then(
        (): typeof STORED => STORED,
        (error: unknown) => ({ error }),
      );
      const outcome = await Promise.race([call, this.deadline]);
      if (outcome === STORED) {
        this.recordSent(batch);
        return;
      }

      const error = outcome === DEADLINE ? undefined : outcome.error;
      if (this.deadlinePassed) {
        this.logLost(batch, attempt, error);
        return;
      }

      const delayMs = this.backoffMs(attempt);
      this.logger.warn(
        { err: error, attempt, identifiers: batch.length, retryInMs: Math.round(delayMs) },
        "adding rotation jobs to Redis failed; retrying",
      );
      await Promise.race([sleep(delayMs, undefined, { ref: false }), this.deadline]);
    }
  }

  private logLost(batch: RotationEvent[], attempt: number, error: unknown): void {
    this.lostIdentifiers += batch.length;
    const reason =
      error === undefined
        ? "Redis did not answer before the shutdown deadline, so these jobs may be missing"
        : "adding rotation jobs to Redis failed until the shutdown deadline, so these jobs are missing";
    this.logger.error(
      {
        err: error,
        attempt,
        lostIdentifiers: batch.length,
        identifiers: batch.slice(0, MAX_LOGGED_IDENTIFIERS).map((event) => event.identifier),
      },
      `${reason}; rotate those secrets again`,
    );
  }

  /** Exponential backoff with jitter between 50 % and 100 % of the step. */
  private backoffMs(attempt: number): number {
    const step = Math.min(this.retryBaseDelayMs * 2 ** (attempt - 1), this.retryMaxDelayMs);
    return step * (0.5 + Math.random() / 2);
  }

  private recordSent(batch: RotationEvent[]): void {
    const now = Date.now();
    const perSource = new Map<string, { config: string; source: string; count: number }>();
    for (const event of batch) {
      this.metrics.enqueueLatency.observe(Math.max(0, now - event.receivedAt) / 1000);

      const key = `${event.configName}\u0000${event.sourceIndex}`;
      const entry = perSource.get(key);
      if (entry !== undefined) {
        entry.count += 1;
      } else {
        const labels = { config: event.configName, source: String(event.sourceIndex) };
        perSource.set(key, { ...labels, count: 1 });
      }
    }
    for (const { config, source, count } of perSource.values()) {
      this.metrics.identifiersEnqueued.inc({ config, source }, count);
    }
  }
}
