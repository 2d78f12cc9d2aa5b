const NANOSECONDS_PER_MILLISECOND = 1_000_000n;

/**
 * A wall clock with nanosecond digits whose readings strictly increase within the process,
 * so two rotations of one ExternalSecret in the same millisecond still write different
 * annotation values.
 *
 * Milliseconds come from `Date.now()` and the sub-millisecond digits from
 * `process.hrtime.bigint()`. A reading that is not greater than the previous one becomes
 * the previous one plus 1 ns. After the system clock steps back, readings therefore run
 * ahead of it by up to the size of the step until it catches up.
 */
export class MonotonicClock {
  private lastNanoseconds = 0n;
  private readonly readWallMilliseconds: () => number;
  private readonly readHighResolution: () => bigint;

  /**
   * @param readWallMilliseconds epoch milliseconds; default `Date.now`.
   * @param readHighResolution a nanosecond counter; default `process.hrtime.bigint`.
   */
  constructor(
    readWallMilliseconds: () => number = Date.now,
    readHighResolution: () => bigint = process.hrtime.bigint,
  ) {
    this.readWallMilliseconds = readWallMilliseconds;
    this.readHighResolution = readHighResolution;
  }

  /** Returns the next reading in nanoseconds since the Unix epoch. */
  nowNanoseconds(): bigint {
    const milliseconds = BigInt(Math.trunc(this.readWallMilliseconds()));
    const subMillisecond = this.readHighResolution() % NANOSECONDS_PER_MILLISECOND;
    let reading = milliseconds * NANOSECONDS_PER_MILLISECOND + subMillisecond;

    if (reading <= this.lastNanoseconds) {
      reading = this.lastNanoseconds + 1n;
    }

    this.lastNanoseconds = reading;
    return reading;
  }

  /** Returns the next reading as RFC 3339 UTC with nine fraction digits, such as `2026-12-04T16:20:01.123456789Z`. */
  nowRfc3339(): string {
    return formatRfc3339Nanoseconds(this.nowNanoseconds());
  }
}

/** Formats epoch nanoseconds as RFC 3339 UTC with nine fraction digits. */
export function formatRfc3339Nanoseconds(epochNanoseconds: bigint): string {
  const nanosecondsPerSecond = 1_000n * NANOSECONDS_PER_MILLISECOND;
  const seconds = epochNanoseconds / nanosecondsPerSecond;
  const fraction = epochNanoseconds % nanosecondsPerSecond;

  // toISOString gives `YYYY-MM-DDTHH:MM:SS.sssZ`; keep the part up to the seconds.
  const wholeSeconds = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${wholeSeconds}.${fraction.toString().padStart(9, "0")}Z`;
}
