import type { RotationEvent } from "../shared/queue-contract.js";

/** Outcome of adding an event to `PendingIdentifiers`. */
export const PendingAddResult = {
  /** A new identifier, now waiting for its window to end. */
  Added: "added",
  /** The identifier was already waiting: the two triggers become one job. */
  Coalesced: "coalesced",
  /** The bound was reached and the identifier was not waiting yet, so it was dropped. */
  Shed: "shed",
} as const;
export type PendingAddResult = (typeof PendingAddResult)[keyof typeof PendingAddResult];

interface PendingEntry {
  readonly event: RotationEvent;
  /** `performance.now()` value at which the coalescing window of this entry ends. */
  readonly dueAt: number;
}

/**
 * Identifiers waiting to be stored in Redis, one entry per (Config, identifier), bounded in
 * number. An identifier waits `windowMs` from its first trigger, and later triggers within
 * that window join it, so a burst becomes one job. A trigger after the entry was taken for
 * sending starts a new entry, so a rotation that arrives while the previous job is already
 * queued or running still gets a job of its own.
 *
 * Every entry waits the same time, so the Map's insertion order is also the order in which
 * windows end, and taking the due entries is a walk from the front.
 */
export class PendingIdentifiers {
  private readonly entries = new Map<string, PendingEntry>();

  constructor(
    private readonly windowMs: number,
    private readonly maxSize: number,
  ) {}

  /** Number of identifiers waiting. */
  get size(): number {
    return this.entries.size;
  }

  /** Tells whether the bound is reached, so new identifiers are shed. */
  get full(): boolean {
    return this.entries.size >= this.maxSize;
  }

  /** Adds one trigger; `now` is a `performance.now()` value. */
  add(event: RotationEvent, now: number): PendingAddResult {
    const key = `${event.configName}\u0000${event.identifier}`;
    if (this.entries.has(key)) return PendingAddResult.Coalesced;
    if (this.full) return PendingAddResult.Shed;

    this.entries.set(key, { event, dueAt: now + this.windowMs });
    return PendingAddResult.Added;
  }

  /**
   * Removes and returns up to `max` events whose window has ended at `now`, oldest first;
   * with `ignoreWindows`, the oldest events whatever their window (for shutdown).
   */
  take(now: number, max: number, ignoreWindows = false): RotationEvent[] {
    const taken: RotationEvent[] = [];
    for (const [key, entry] of this.entries) {
      if (taken.length >= max || (!ignoreWindows && entry.dueAt > now)) break;
      taken.push(entry.event);
      this.entries.delete(key);
    }
    return taken;
  }

  /** Returns when the oldest window ends (a `performance.now()` value), or undefined when empty. */
  nextDueAt(): number | undefined {
    for (const entry of this.entries.values()) return entry.dueAt;
    return undefined;
  }
}
