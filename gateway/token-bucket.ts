/**
 * Token bucket that allows `ratePerSecond` events on average and bursts of up to `burst`.
 * It starts full.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number = Date.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes one token and returns true, or returns false when the bucket is empty. */
  take(now: number = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes `count` more tokens whatever the bucket holds, for events that turn out to cost
   * more than the one token `take` took. The bucket may go below zero; `take` then fails
   * until it has refilled.
   */
  charge(count: number, now: number = Date.now()): void {
    this.refill(now);
    this.tokens -= count;
  }

  /** Returns whether the bucket has refilled completely, so a new one would be the same. */
  isFull(now: number = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  /** Returns the time in ms until the bucket contains `count` tokens (at most `burst`). */
  msUntil(count: number, now: number = Date.now()): number {
    this.refill(now);
    const missing = Math.min(count, this.burst) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.ratePerSecond);
  }

  private refill(now: number): void {
    const elapsedMs = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    this.updatedAt = now;
  }
}
