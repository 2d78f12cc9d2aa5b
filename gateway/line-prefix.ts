import type { Frame } from "./json-framer.js";

/** The part of `JsonFramer` that a connection uses. */
export interface DocumentFramer {
  push(chunk: Buffer): Frame[];
  end(): Frame[];
}

const NEWLINE = 0x0a;

/**
 * Removes a fixed text from the start of every line before the bytes reach a framer, as
 * Vault's audit device `prefix` option writes it before each entry. Lines that do not start
 * with the prefix pass unchanged. The prefix may be split across chunks: the bytes that
 * match it so far are held back until the line either completes it or leaves it.
 *
 * Frame offsets count bytes of the stream after removal, so they are smaller than the
 * sender's offsets by the prefix length times the lines before the frame.
 */
export class LinePrefixStripper implements DocumentFramer {
  private readonly prefix: Buffer;
  /** Bytes of the prefix matched at the start of the current line; -1 past the line start. */
  private matched = 0;

  constructor(
    prefix: string,
    private readonly framer: DocumentFramer,
  ) {
    if (prefix === "" || prefix.includes("\n")) {
      throw new Error(`line prefix must be a non-empty single line, got ${JSON.stringify(prefix)}`);
    }
    this.prefix = Buffer.from(prefix, "utf8");
  }

  push(chunk: Buffer): Frame[] {
    const outputParts: Buffer[] = [];
    let segmentStart = 0;

    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i] as number;
      if (this.matched < 0) {
        if (byte === NEWLINE) this.matched = 0;
        continue;
      }

      if (byte === this.prefix[this.matched]) {
        // Hold the byte back: it is dropped once the whole prefix has matched.
        outputParts.push(chunk.subarray(segmentStart, i));
        segmentStart = i + 1;
        this.matched += 1;
        if (this.matched === this.prefix.length) this.matched = -1;
        continue;
      }

      // The line does not start with the prefix: pass on the held-back bytes, then the line.
      outputParts.push(chunk.subarray(segmentStart, i));
      if (this.matched > 0) outputParts.push(this.prefix.subarray(0, this.matched));
      segmentStart = i;
      this.matched = byte === NEWLINE ? 0 : -1;
    }
    outputParts.push(chunk.subarray(segmentStart));

    const output = Buffer.concat(outputParts.filter((part) => part.length > 0));
    return output.length > 0 ? this.framer.push(output) : [];
  }

  end(): Frame[] {
    // A stream that ends inside a partial prefix passes those bytes on, so they are reported.
    const frames =
      this.matched > 0 ? this.framer.push(Buffer.from(this.prefix.subarray(0, this.matched))) : [];
    this.matched = 0;
    return [...frames, ...this.framer.end()];
  }
}
