/** Events that `JsonSyntaxScanner.scan` stops at. */
export const ScanEvent = {
  /** The chunk is used up. */
  ChunkEnd: 0,
  /** A document starts at `index`. */
  DocumentStart: 1,
  /** The open document ends at `index`. */
  DocumentEnd: 2,
  /** The byte at `index` is not valid in the open document. See `expected` and `restarted`. */
  SyntaxError: 3,
  /**
   * Text between documents that cannot start one was skipped up to `index`, where scanning
   * resumes. `skippedBytes` and `skippedLength` describe the text.
   */
  SkippedText: 4,
} as const;
export type ScanEvent = (typeof ScanEvent)[keyof typeof ScanEvent];

/**
 * Scanner states. `Value`, `Key` and the rest are positions inside a document. The states
 * from `ByteOrderMark` on are rare, so the scan loop tests for them with one comparison.
 */
const State = {
  Idle: 0,
  ObjectStart: 1,
  Key: 2,
  Colon: 3,
  ArrayStart: 4,
  Value: 5,
  AfterValue: 6,
  String: 7,
  Number: 8,
  Literal: 9,
  /** Between documents, after the first bytes of a UTF-8 byte order mark. */
  ByteOrderMark: 10,
  /** Between documents, in text that cannot start a document. */
  SkipText: 11,
  /** In the rest of a document rejected for a syntax error. */
  SkipDocument: 12,
  /** In the rest of a document rejected for nesting deeper than `maxDepth`. */
  SkipNested: 13,
} as const;
type State = (typeof State)[keyof typeof State];

const OBJECT = 1;
const ARRAY = 2;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
/** Record separator, which starts each JSON text in an RFC 7464 JSON text sequence. */
const RS = 0x1e;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** UTF-8 encoding of U+FEFF, the byte order mark that some writers put before JSON text. */
const BYTE_ORDER_MARK = Buffer.from([0xef, 0xbb, 0xbf]);

/** The literals `true`, `false` and `null`, by their first byte. */
const LITERALS = new Map<number, Uint8Array>([
  [0x74, Buffer.from("true")],
  [0x66, Buffer.from("false")],
  [0x6e, Buffer.from("null")],
]);

/**
 * Incremental JSON syntax checker that finds where documents (top-level objects and arrays)
 * start and end in a byte stream. It tracks strings, escapes, the stack of open containers
 * and the grammar between tokens. Apart from rejecting a raw newline in a string, it leaves
 * the inside of numbers and strings to `JSON.parse`, so a document it accepts can still fail
 * to parse.
 *
 * Between documents it skips whitespace, the record separator 0x1E that starts each text of
 * an RFC 7464 JSON text sequence, and the UTF-8 byte order mark EF BB BF. Other text there
 * is skipped up to the next newline, `{` or `[`, and reported once as `SkippedText`.
 *
 * After a syntax error in a document, the scanner skips to the next newline, `{` or `[`, and
 * a `{` or `[` there starts the next document. When the offending byte is itself a `{` or
 * `[`, it starts the next document at once (`restarted`), which recovers the document that
 * follows one cut off before its closing bracket. A document nested deeper than `maxDepth`
 * is skipped to its closing bracket instead, or to the next newline.
 *
 * NOTE: resuming at the next `{` or `[` after an error can take a nested object or array of
 * the rejected document, or a bracket in one of its strings, for a document of its own. For
 * example `{"a":x,"b":{"c":1}}` yields a syntax error, the document `{"c":1}` and the
 * skipped text `}`.
 *
 * NOTE: a document cut off where a value may follow, as in `{"a":` or `[1,`, takes the next
 * document in as that value, because the scanner cannot distinguish the two.
 */
export class JsonSyntaxScanner {
  /** Index in the chunk of the byte behind the last event. */
  index = 0;
  /** After a `SyntaxError`: what would have been valid, such as `"',' or '}'"`. */
  expected = "";
  /** After a `SyntaxError`: whether the offending byte started a new document. */
  restarted = false;
  /**
   * After `SkippedText`, or while `inSkippedText`: bytes of the skipped text, from its first
   * byte to its last byte that is not whitespace.
   */
  skippedBytes = 0;
  /**
   * After `SkippedText`, or while `inSkippedText`: bytes from the first skipped byte up to
   * `index`, or up to the end of the last chunk, including trailing whitespace. The text can
   * start in an earlier chunk.
   */
  skippedLength = 0;

  private state: State = State.Idle;
  private containers = new Uint8Array(16);
  private depth = 0;
  private stringIsKey = false;
  /** Whether the last byte read in a string, in `String` or `SkipNested`, was a backslash. */
  private escaped = false;
  private literal: Uint8Array = LITERALS.get(0x74)!;
  private literalIndex = 0;
  /** Open containers of the document that `SkipNested` skips. */
  private skippedDepth = 0;
  private inSkippedString = false;
  /** Chunk that the `next…` positions index into; they reset when a scan starts at 0. */
  private searchedChunk: Buffer | undefined;
  private nextQuote = -1;
  private nextBackslash = -1;
  private nextNewline = -1;

  /** @param maxDepth deepest nesting of objects and arrays before a `SyntaxError`. */
  constructor(private readonly maxDepth: number) {}

  /** Whether a document is open. */
  get inDocument(): boolean {
    return this.depth > 0;
  }

  /**
   * Whether the last chunk ended in skipped text between documents, including the first
   * bytes of a byte order mark. `skippedBytes` and `skippedLength` describe that text.
   */
  get inSkippedText(): boolean {
    return this.state === State.SkipText || this.state === State.ByteOrderMark;
  }

  /** Returns to the state between documents, forgetting an open document or skipped text. */
  reset(): void {
    this.depth = 0;
    this.state = State.Idle;
    this.skippedBytes = 0;
    this.skippedLength = 0;
  }

  /** Scans `chunk` from index `from` up to the next event and returns it. */
  scan(chunk: Buffer, from: number): ScanEvent {
    if (from === 0 || chunk !== this.searchedChunk) {
      this.searchedChunk = chunk;
      this.nextQuote = -1;
      this.nextBackslash = -1;
      this.nextNewline = -1;
    }
    for (let i = from; i < chunk.length; i++) {
      const state = this.state;
      if (state === State.String) {
        i = this.scanString(chunk, i);
        if (chunk[i] === LF) return this.fail(i, LF, "'\"' before the end of the line");
        continue;
      }
      if (state >= State.ByteOrderMark) {
        if (state === State.SkipText) {
          i = this.skipText(chunk, i);
          if (i === chunk.length) break;
          this.state = State.Idle;
          this.index = i;
          return ScanEvent.SkippedText;
        }
        // These helpers return the index of the first byte for the state they switch to.
        if (state === State.ByteOrderMark) i = this.matchByteOrderMark(chunk, i);
        else if (state === State.SkipDocument) i = this.skipDocument(chunk, i);
        else i = this.skipNested(chunk, i);
        i -= 1;
        continue;
      }

      const byte = chunk[i]!;
      if (state === State.Literal) {
        if (byte === this.literal[this.literalIndex]) {
          this.literalIndex += 1;
          if (this.literalIndex === this.literal.length) this.state = State.AfterValue;
          continue;
        }
        return this.fail(i, byte, `'${Buffer.from(this.literal).toString("latin1")}'`);
      }
      if (state === State.Number) {
        if (isNumberByte(byte)) continue;
        this.state = State.AfterValue;
      }

      if (byte === SPACE || byte === LF || byte === CR || byte === TAB) continue;
      const event = this.scanStructure(i, byte);
      if (event !== ScanEvent.ChunkEnd) return event;
    }
    this.index = chunk.length;
    return ScanEvent.ChunkEnd;
  }

  /**
   * Handles a byte outside strings, numbers and literals that is not whitespace. Returns
   * `ChunkEnd` when scanning goes on.
   */
  private scanStructure(i: number, byte: number): ScanEvent {
    switch (this.state) {
      case State.Idle:
        if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          this.pushContainer(byte);
          this.index = i;
          return ScanEvent.DocumentStart;
        }
        if (byte !== RS) {
          this.state = byte === BYTE_ORDER_MARK[0] ? State.ByteOrderMark : State.SkipText;
          this.skippedBytes = 1;
          this.skippedLength = 1;
        }
        return ScanEvent.ChunkEnd;
      case State.ObjectStart:
        if (byte === QUOTE) return this.startString(true);
        if (byte === CLOSE_BRACE) return this.closeContainer(i);
        return this.fail(i, byte, "a string key or '}'");
      case State.Key:
        if (byte === QUOTE) return this.startString(true);
        return this.fail(i, byte, "a string key");
      case State.Colon:
        if (byte !== COLON) return this.fail(i, byte, "':'");
        this.state = State.Value;
        return ScanEvent.ChunkEnd;
      case State.ArrayStart:
        if (byte === CLOSE_BRACKET) return this.closeContainer(i);
        return this.startValue(i, byte, "a value or ']'");
      case State.Value:
        return this.startValue(i, byte, "a value");
      default:
        return this.scanAfterValue(i, byte);
    }
  }

  private scanAfterValue(i: number, byte: number): ScanEvent {
    const inObject = this.containers[this.depth - 1] === OBJECT;
    if (byte === COMMA) {
      this.state = inObject ? State.Key : State.Value;
      return ScanEvent.ChunkEnd;
    }
    if (byte === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return this.closeContainer(i);
    return this.fail(i, byte, inObject ? "',' or '}'" : "',' or ']'");
  }

  private startValue(i: number, byte: number, expected: string): ScanEvent {
    const literal = LITERALS.get(byte);
    if (byte === QUOTE) return this.startString(false);

    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (this.depth >= this.maxDepth) return this.failTooDeep(i);
      this.pushContainer(byte);
    } else if (byte === 0x2d || (byte >= 0x30 && byte <= 0x39)) {
      this.state = State.Number;
    } else if (literal !== undefined) {
      this.literal = literal;
      this.literalIndex = 1;
      this.state = State.Literal;
    } else {
      return this.fail(i, byte, expected);
    }
    return ScanEvent.ChunkEnd;
  }

  private startString(isKey: boolean): ScanEvent {
    this.stringIsKey = isKey;
    this.escaped = false;
    this.state = State.String;
    return ScanEvent.ChunkEnd;
  }

  /**
   * Advances to the closing quote of the open string and returns its index. Returns the
   * index of a newline that comes first, because JSON strings cannot contain one, or the
   * chunk length if the string goes on. Searching with `indexOf` keeps long strings fast,
   * and the cached positions keep the work linear when a string has many escapes.
   */
  private scanString(chunk: Buffer, from: number): number {
    let i = from;
    if (this.escaped) {
      this.escaped = false;
      if (chunk[i] === LF) return i;
      i += 1;
    }

    for (;;) {
      if (this.nextQuote < i) this.nextQuote = indexOrLength(chunk, QUOTE, i);
      if (this.nextBackslash < i) this.nextBackslash = indexOrLength(chunk, BACKSLASH, i);
      if (this.nextNewline < i) this.nextNewline = indexOrLength(chunk, LF, i);
      if (this.nextBackslash >= Math.min(this.nextQuote, this.nextNewline)) break;

      // Skip the backslash and the byte it escapes.
      i = this.nextBackslash + 1;
      if (i === chunk.length) {
        this.escaped = true;
        return i;
      }
      if (chunk[i] === LF) return i;
      i += 1;
    }

    if (this.nextQuote < this.nextNewline) {
      this.state = this.stringIsKey ? State.Colon : State.AfterValue;
      return this.nextQuote;
    }
    return this.nextNewline;
  }

  private pushContainer(byte: number): void {
    if (this.depth === this.containers.length) {
      const grown = new Uint8Array(Math.min(this.containers.length * 2, this.maxDepth));
      grown.set(this.containers);
      this.containers = grown;
    }
    this.containers[this.depth] = byte === OPEN_BRACE ? OBJECT : ARRAY;
    this.depth += 1;
    this.state = byte === OPEN_BRACE ? State.ObjectStart : State.ArrayStart;
  }

  private closeContainer(i: number): ScanEvent {
    this.depth -= 1;
    if (this.depth > 0) {
      this.state = State.AfterValue;
      return ScanEvent.ChunkEnd;
    }
    this.state = State.Idle;
    this.index = i;
    return ScanEvent.DocumentEnd;
  }

  /**
   * Skips text between documents up to the next newline, `{` or `[`, and returns its index,
   * or the chunk length if the text goes on. Updates `skippedBytes` and `skippedLength`.
   */
  private skipText(chunk: Buffer, from: number): number {
    let length = this.skippedLength;
    let bytes = this.skippedBytes;
    let i = from;
    for (; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF || byte === OPEN_BRACE || byte === OPEN_BRACKET) break;
      length += 1;
      if (byte !== SPACE && byte !== CR && byte !== TAB && byte !== RS) bytes = length;
    }
    this.skippedLength = length;
    this.skippedBytes = bytes;
    return i;
  }

  /**
   * Matches the rest of a byte order mark, whose first `skippedLength` bytes came before.
   * Turns the bytes read so far into skipped text at the first byte that does not match.
   */
  private matchByteOrderMark(chunk: Buffer, from: number): number {
    let i = from;
    while (i < chunk.length && this.skippedLength < BYTE_ORDER_MARK.length) {
      if (chunk[i] !== BYTE_ORDER_MARK[this.skippedLength]) {
        this.state = State.SkipText;
        return i;
      }
      this.skippedLength += 1;
      this.skippedBytes = this.skippedLength;
      i += 1;
    }
    if (this.skippedLength === BYTE_ORDER_MARK.length) {
      this.state = State.Idle;
      this.skippedLength = 0;
      this.skippedBytes = 0;
    }
    return i;
  }

  /** Skips the rest of a rejected document up to the next newline, `{` or `[`. */
  private skipDocument(chunk: Buffer, from: number): number {
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === LF || byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        this.state = State.Idle;
        return i;
      }
    }
    return chunk.length;
  }

  /**
   * Skips the rest of a document that was valid up to a container nested too deep, by
   * counting brackets outside strings up to its closing bracket. A newline ends the skip
   * early, as after other syntax errors.
   */
  private skipNested(chunk: Buffer, from: number): number {
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF) {
        this.state = State.Idle;
        return i;
      }
      if (this.inSkippedString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inSkippedString = false;
      } else if (byte === QUOTE) {
        this.inSkippedString = true;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        this.skippedDepth += 1;
      } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.skippedDepth -= 1;
        if (this.skippedDepth === 0) {
          this.state = State.Idle;
          return i + 1;
        }
      }
    }
    return chunk.length;
  }

  /** Reports a syntax error at `chunk[i]` in the open document and chooses where to resume. */
  private fail(i: number, byte: number, expected: string): ScanEvent {
    this.index = i;
    this.expected = expected;
    this.restarted = false;
    this.depth = 0;

    if (byte === LF) {
      this.state = State.Idle;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      this.restarted = true;
      this.pushContainer(byte);
    } else {
      this.state = State.SkipDocument;
    }
    return ScanEvent.SyntaxError;
  }

  /** Reports the `{` or `[` at `chunk[i]` that nests deeper than `maxDepth`. */
  private failTooDeep(i: number): ScanEvent {
    this.index = i;
    this.expected = `at most ${this.maxDepth} levels of nesting`;
    this.restarted = false;
    this.skippedDepth = this.depth + 1;
    this.inSkippedString = false;
    this.escaped = false;
    this.depth = 0;
    this.state = State.SkipNested;
    return ScanEvent.SyntaxError;
  }
}

function indexOrLength(chunk: Buffer, byte: number, from: number): number {
  const index = chunk.indexOf(byte, from);
  return index < 0 ? chunk.length : index;
}

function isNumberByte(byte: number): boolean {
  // Digits, '+', '-', '.', 'e' and 'E'. JSON.parse checks the number's grammar later.
  return (
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x2b ||
    byte === 0x2e ||
    byte === 0x65 ||
    byte === 0x45
  );
}
