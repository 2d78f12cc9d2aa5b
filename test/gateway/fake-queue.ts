import { Writable } from "node:stream";
import { pino } from "pino";
import type { RotationQueue } from "../../gateway/rotation-enqueuer.js";
import type { Logger } from "../../shared/logger.js";
import type { RotationEvent } from "../../shared/queue-contract.js";

/**
 * In-memory stand-in for the BullMQ queue, for tests of batching, retries and back-pressure
 * that need Redis to be slow or failing on purpose. Tests of the real path use Redis.
 */
export class FakeQueue implements RotationQueue {
  /** Event data of each successful `addBulk` call, in call order. */
  readonly batches: RotationEvent[][] = [];
  /** Number of upcoming calls that fail. */
  failuresLeft = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  /** Makes `addBulk` wait until `release()` is called. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  /** Identifiers stored so far, in order. */
  get identifiers(): string[] {
    return this.batches.flat().map((event) => event.identifier);
  }

  async addBulk(
    jobs: Parameters<RotationQueue["addBulk"]>[0],
  ): ReturnType<RotationQueue["addBulk"]> {
    if (this.gate !== undefined) await this.gate;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new Error("Connection is closed.");
    }
    this.batches.push(jobs.map((job) => job.data));
    return [];
  }
}

/** Creates a pino logger at debug level that keeps each line, parsed, in `lines`. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.length > 0) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** Returns a rotation event for `identifier` from source 0 of Config `test`. */
export function rotationEvent(identifier: string, sourceIndex = 0): RotationEvent {
  return {
    configName: "test",
    sourceType: "TCPSocket",
    sourceIndex,
    identifier,
    receivedAt: Date.now(),
  };
}
