import { DEFAULT_MAX_MESSAGE_BYTES } from "../shared/config-schema.js";
import { JsonSyntaxScanner, ScanEvent } from "./json-syntax-scanner.js";

/** Reasons for rejecting part of the stream; the values double as metric labels. */
export const FrameRejection = {
  InvalidJson: "invalid_json",
  Oversize: "oversize",
} as const;
export type FrameRejection = (typeof FrameRejection)[keyof typeof FrameRejection];

/** One JSON document read from the stream, or one rejected document or stretch of text. */
export type Frame =
  | {
      readonly kind: "document";
      readonly value: unknown;
      /** Byte offset of the document's first byte in the stream. */
      readonly offset: number;
      readonly byteLength: number;
    }
  | {
      readonly kind: "rejected";
      readonly reason: FrameRejection;
      /** Byte offset in the stream where the rejected document or text starts. */
      readonly offset: number;
      /** Explanation that is safe to log: it quotes at most one byte of the payload. */
      readonly detail: string;
    };

/** Options of a `JsonFramer`. */
export interface JsonFramerOptions {
  /**
   * Largest accepted document in bytes, from its first to its last byte. Larger documents
   * are skipped without being buffered and reported as `oversize`. Default
   * `DEFAULT_MAX_MESSAGE_BYTES` (1 MiB).
   */
  readonly maxMessageBytes?: number;
  /**
   * Deepest nesting of objects and arrays. A deeper document is rejected as `invalid_json`,
   * which bounds the memory the framer keeps per stream. Default `DEFAULT_MAX_DEPTH` (1000).
   */
  readonly maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 1000;

/**
 * Splits a byte stream into JSON documents: newline-delimited, CRLF-delimited, concatenated
 * without separators, or pretty-printed over several lines. Documents are top-level objects
 * and arrays. A document ends at its closing bracket, with or without a newline after it,
 * and is decoded from UTF-8 and parsed once, when complete, so chunks may split it anywhere,
 * even inside a multi-byte character.
 *
 * Syntax errors reject the open document as `invalid_json`, and framing resumes at the next
 * newline, `{` or `[` (see `JsonSyntaxScanner`). Text between documents that does not start
 * with `{` or `[`, such as `not json`, a bare `42` or a stray `,`, is skipped up to the next
 * newline, `{` or `[` and rejected once, with its length in bytes. Whitespace, the RFC 7464
 * record separator 0x1E and a UTF-8 byte order mark between documents are skipped silently.
 *
 * `push()` keeps references to parts of the chunks of an unfinished document, so callers
 * must not reuse a chunk's memory afterwards. `net.Socket` hands out a new Buffer per read.
 */
export class JsonFramer {
  private readonly maxMessageBytes: number;
  private readonly scanner: JsonSyntaxScanner;

  /** Stream offset of the first byte of the current chunk. */
  private streamOffset = 0;
  private documentOffset = 0;
  /** Index in the current chunk where the open document starts, or 0 if it began earlier. */
  private documentStart = 0;
  /** Bytes of the open document in earlier chunks. */
  private earlierBytes = 0;
  /** Chunk parts of the open document; empty while an oversize document is skipped. */
  private parts: Buffer[] = [];
  private oversize = false;

  constructor(options: JsonFramerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (!Number.isInteger(this.maxMessageBytes) || this.maxMessageBytes < 1) {
      throw new RangeError(
        `maxMessageBytes must be a positive integer number of bytes, got ${this.maxMessageBytes}`,
      );
    }
    if (!Number.isInteger(maxDepth) || maxDepth < 1) {
      throw new RangeError(`maxDepth must be a positive integer, got ${maxDepth}`);
    }
    this.scanner = new JsonSyntaxScanner(maxDepth);
  }

  /** Bytes of the open document held in memory; 0 while an oversize document is skipped. */
  get bufferedBytes(): number {
    let total = 0;
    for (const part of this.parts) total += part.length;
    return total;
  }

  /** Scans one chunk and returns the documents and rejections that end in it, in order. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    const scanner = this.scanner;
    this.documentStart = 0;

    let from = 0;
    for (;;) {
      const event = scanner.scan(chunk, from);
      if (event === ScanEvent.ChunkEnd) break;

      if (event === ScanEvent.SkippedText) {
        frames.push(this.rejectSkippedText(this.streamOffset + scanner.index));
        // The newline, `{` or `[` that ended the text is scanned next.
        from = scanner.index;
        continue;
      }
      if (event === ScanEvent.DocumentStart) {
        this.startDocument(scanner.index);
      } else if (event === ScanEvent.DocumentEnd) {
        frames.push(this.finishDocument(chunk, scanner.index));
        this.resetDocument();
      } else {
        frames.push(this.rejectSyntax(scanner.index, chunk[scanner.index]!));
        this.resetDocument();
        if (scanner.restarted) this.startDocument(scanner.index);
      }
      from = scanner.index + 1;
    }

    this.keepOpenDocument(chunk);
    this.streamOffset += chunk.length;
    return frames;
  }

  /**
   * Ends the stream. Returns a rejection for a document that the stream cut off, and
   * nothing otherwise. The framer can then read a new stream.
   */
  end(): Frame[] {
    const frames: Frame[] = [];
    if (this.scanner.inSkippedText) frames.push(this.rejectSkippedText(this.streamOffset));
    if (this.scanner.inDocument) {
      frames.push(
        this.oversize
          ? this.rejectOversize(this.earlierBytes)
          : this.reject(
              FrameRejection.InvalidJson,
              `the stream ended inside the document at byte ${this.documentOffset} ` +
                `after ${this.earlierBytes} bytes`,
            ),
      );
    }
    this.scanner.reset();
    this.resetDocument();
    return frames;
  }

  private startDocument(index: number): void {
    this.resetDocument();
    this.documentOffset = this.streamOffset + index;
    this.documentStart = index;
  }

  /** Decodes and parses the document that ends at `chunk[end]`. */
  private finishDocument(chunk: Buffer, end: number): Frame {
    const byteLength = this.earlierBytes + end + 1 - this.documentStart;
    if (this.oversize || byteLength > this.maxMessageBytes) {
      return this.rejectOversize(byteLength);
    }

    let text: string;
    if (this.parts.length === 0) {
      text = chunk.toString("utf8", this.documentStart, end + 1);
    } else {
      this.parts.push(chunk.subarray(0, end + 1));
      text = Buffer.concat(this.parts, byteLength).toString("utf8");
    }

    try {
      const value: unknown = JSON.parse(text);
      return { kind: "document", value, offset: this.documentOffset, byteLength };
    } catch {
      // The scanner checked everything but the inside of numbers and strings. The message of
      // JSON.parse quotes the payload, so it stays out of the detail.
      return this.reject(
        FrameRejection.InvalidJson,
        `the document of ${byteLength} bytes at byte ${this.documentOffset} contains an ` +
          `invalid number or string`,
      );
    }
  }

  private rejectSyntax(index: number, byte: number): Frame {
    const scanner = this.scanner;
    const at = this.streamOffset + index;
    const byteLength = this.earlierBytes + index - this.documentStart;
    if (this.oversize || byteLength > this.maxMessageBytes) return this.rejectOversize(byteLength);
    return this.reject(
      FrameRejection.InvalidJson,
      `unexpected ${describeByte(byte)} at byte ${at} in the document at byte ` +
        `${this.documentOffset}; expected ${scanner.expected}`,
    );
  }

  /**
   * Rejects the text between documents that the scanner skipped up to stream offset `end`.
   * The detail gives its length but none of its bytes, because it can be any payload.
   */
  private rejectSkippedText(end: number): Frame {
    const offset = end - this.scanner.skippedLength;
    const count = this.scanner.skippedBytes;
    const bytes = count === 1 ? "1 byte" : `${count} bytes`;
    return {
      kind: "rejected",
      reason: FrameRejection.InvalidJson,
      offset,
      detail:
        `skipped ${bytes} of invalid JSON at byte ${offset}; ` +
        `expected '{' or '[' to start a JSON document`,
    };
  }

  /** Keeps the open document's bytes of this chunk, or drops them once it is oversize. */
  private keepOpenDocument(chunk: Buffer): void {
    if (!this.scanner.inDocument) return;
    this.earlierBytes += chunk.length - this.documentStart;
    if (this.oversize) return;

    if (this.earlierBytes > this.maxMessageBytes) {
      this.oversize = true;
      this.parts = [];
    } else {
      this.parts.push(chunk.subarray(this.documentStart));
    }
  }

  private resetDocument(): void {
    this.earlierBytes = 0;
    this.parts = [];
    this.oversize = false;
  }

  private reject(reason: FrameRejection, detail: string): Frame {
    return { kind: "rejected", reason, offset: this.documentOffset, detail };
  }

  private rejectOversize(byteLength: number): Frame {
    return this.reject(
      FrameRejection.Oversize,
      `the document at byte ${this.documentOffset} is larger than the limit of ` +
        `${this.maxMessageBytes} bytes (${byteLength} bytes read); raise maxMessageBytes ` +
        `or send smaller documents`,
    );
  }
}

/** Names a byte for a message: printable ASCII as itself, anything else in hex. */
function describeByte(byte: number): string {
  if (byte > 0x20 && byte < 0x7f) return `'${String.fromCharCode(byte)}'`;
  return `byte 0x${byte.toString(16).padStart(2, "0")}`;
}
