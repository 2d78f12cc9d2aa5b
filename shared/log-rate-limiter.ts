/** Decision of `LogRateLimiter.take`. */
export interface LogPermit {
  /** Whether this message may be logged. */
  readonly allowed: boolean;
  /** Messages dropped since the last allowed one; report it with the allowed message. */
  readonly suppressed: number;
}

/**
 * Limits repeated log messages to `limit` per window of `intervalMs` milliseconds, so a
 * sender that streams garbage cannot flood the log. Dropped messages are counted and the
 * count is handed to the next allowed message.
 */
export class LogRateLimiter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private usedInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly limit: number,
    private readonly intervalMs: number,
  ) {}

  /** Takes one permit; `now` is in epoch milliseconds. */
  take(now: number = Date.now()): LogPermit {
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.usedInWindow = 0;
    }
    if (this.usedInWindow >= this.limit) {
      this.suppressed += 1;
      return { allowed: false, suppressed: this.suppressed };
    }

    this.usedInWindow += 1;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    return { allowed: true, suppressed };
  }
}
