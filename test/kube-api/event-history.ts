import type { StoreEvent } from "./kube-object.js";

/**
 * The bounded list of recent changes that watches resume from, like the API server's watch cache
 * in front of etcd. A watch from resourceVersion R needs every event newer than R. Once some of
 * those were dropped, the watch must fail with 410 Expired and the client must list again.
 */
export class EventHistory {
  private events: StoreEvent[] = [];
  private compactedThrough = 0;

  /** @param limit the maximum number of events kept. Older ones are dropped first. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new Error(`history limit must be a positive integer, got ${limit}`);
    }
  }

  /** Appends an event, dropping the oldest ones beyond the limit. */
  record(event: StoreEvent): void {
    this.events.push(event);
    while (this.events.length > this.limit) {
      const dropped = this.events.shift();
      if (dropped !== undefined) {
        this.compactedThrough = dropped.resourceVersion;
      }
    }
  }

  /** Drops every event up to and including the given resourceVersion. */
  compact(throughResourceVersion: number): void {
    this.events = this.events.filter((event) => event.resourceVersion > throughResourceVersion);
    this.compactedThrough = Math.max(this.compactedThrough, throughResourceVersion);
  }

  /** The highest resourceVersion whose events were dropped. A watch must start at or after it. */
  get compactedResourceVersion(): number {
    return this.compactedThrough;
  }

  /** Returns the events newer than a resourceVersion, or undefined when some of them were dropped. */
  since(resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion < this.compactedThrough) {
      return undefined;
    }
    return this.events.filter((event) => event.resourceVersion > resourceVersion);
  }
}
