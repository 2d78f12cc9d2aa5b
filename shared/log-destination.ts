import { writeSync } from "node:fs";

/** Attempts, 1 ms apart, to write a line into a full pipe before that line is dropped. */
const MAX_FULL_PIPE_RETRIES = 100;

/**
 * A pino destination that writes each line to stdout synchronously and stops writing once
 * stdout is gone. pino's default destination (sonic-boom 4) retries a write that failed with
 * EPIPE forever when it flushes at exit, so a tier whose launcher died never exited. A line
 * that a full pipe does not take within about 100 ms is dropped, so a stalled log reader
 * cannot stop the gateway from reading its sockets.
 */
export class StdoutDestination {
  private broken = false;

  constructor(private readonly fd = 1) {}

  /** Returns whether stdout has failed, so logs are now dropped. */
  get isBroken(): boolean {
    return this.broken;
  }

  write(line: string): void {
    if (this.broken) return;

    const buffer = Buffer.from(line);
    let offset = 0;
    let fullPipeRetries = 0;
    while (offset < buffer.length) {
      try {
        offset += writeSync(this.fd, buffer, offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EAGAIN") {
          this.broken = true;
          return;
        }
        if (++fullPipeRetries > MAX_FULL_PIPE_RETRIES) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }
}
