/** Events that `JsonSyntaxScanner.scan` stops at. */
export const ScanEvent = {
  /** The chunk is used up. */
  ChunkEnd: 0,
  /** A document starts at `index`. */
  DocumentStart: 1,
  /** The open document ends at `index`. */
  DocumentEnd: 2,
  /** The byte at `index` is not valid at its position; see `expected` and `restarted`. */
  SyntaxError: 3,
} as const;
export type ScanEvent = (typeof ScanEvent)[keyof typeof ScanEvent];

/** Scanner states. `Value`, `Key` and the rest are positions inside a document. */
const State = {
  Idle: 0,
  SkipLine: 1,
  ObjectStart: 2,
  Key: 3,
  Colon: 4,
  ArrayStart: 5,
  Value: 6,
  AfterValue: 7,
  String: 8,
  Number: 9,
  Literal: 10,
} as const;
type State = (typeof State)[keyof typeof State];

const OBJECT = 1;
const ARRAY = 2;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

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
 * After a syntax error the scanner skips to the next newline, unless the offending byte is a
 * `{` or `[` that starts its line: then that byte starts the next document (`restarted`).
 * Text outside documents that does not start with `{` or `[` is a syntax error too, once per
 * line.
 *
 * NOTE: a document cut off where a value may follow, as in `{"a":` or `[1,`, takes the next
 * document in as that value, because the scanner cannot distinguish the two.
 */
export class JsonSyntaxScanner {
  /** Index in the chunk of the byte behind the last event. */
  index = 0;
  /** After a `SyntaxError`: what would have been valid, such as `"',' or '}'"`. */
  expected = "";
  /** After a `SyntaxError`: whether a document was open, as opposed to text between documents. */
  errorInDocument = false;
  /** After a `SyntaxError`: whether the offending byte started a new document. */
  restarted = false;

  private state: State = State.Idle;
  private containers = new Uint8Array(16);
  private depth = 0;
  private stringIsKey = false;
  private escaped = false;
  private literal: Uint8Array = LITERALS.get(0x74)!;
  private literalIndex = 0;
  /** Chunk that the `next…` positions index into; they reset when a scan starts at 0. */
  private searchedChunk: Buffer | undefined;
  private nextQuote = -1;
  private nextBackslash = -1;
  private nextNewline = -1;
  /** True until a byte other than whitespace follows the last newline. */
  private lineBlank = true;

  /** @param maxDepth deepest nesting of objects and arrays before a `SyntaxError`. */
  constructor(private readonly maxDepth: number) {}

  /** Whether a document is open. */
  get inDocument(): boolean {
    return this.depth > 0;
  }

  /** Returns to the state between documents, forgetting an open document. */
  reset(): void {
    this.depth = 0;
    this.state = State.Idle;
    this.lineBlank = true;
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
        if (chunk[i] === LF) return this.fail(i, LF, false, "'\"' before the end of the line");
        continue;
      }
      if (state === State.SkipLine) {
        const newline = chunk.indexOf(LF, i);
        if (newline < 0) break;
        i = newline;
        this.state = State.Idle;
        this.lineBlank = true;
        continue;
      }

      const byte = chunk[i]!;
      if (state === State.Literal) {
        if (byte === this.literal[this.literalIndex]) {
          this.literalIndex += 1;
          if (this.literalIndex === this.literal.length) this.state = State.AfterValue;
          continue;
        }
        return this.fail(i, byte, false, `'${Buffer.from(this.literal).toString("latin1")}'`);
      }
      if (state === State.Number) {
        if (isNumberByte(byte)) continue;
        this.state = State.AfterValue;
      }

      if (byte === SPACE || byte === LF || byte === CR || byte === TAB) {
        if (byte === LF) this.lineBlank = true;
        continue;
      }
      const lineWasBlank = this.lineBlank;
      this.lineBlank = false;
      const event = this.scanStructure(i, byte, lineWasBlank);
      if (event !== ScanEvent.ChunkEnd) return event;
    }
    this.index = chunk.length;
    return ScanEvent.ChunkEnd;
  }

  /**
   * Handles a byte outside strings, numbers and literals that is not whitespace. Returns
   * `ChunkEnd` when scanning goes on.
   */
  private scanStructure(i: number, byte: number, lineWasBlank: boolean): ScanEvent {
    switch (this.state) {
      case State.Idle:
        if (byte !== OPEN_BRACE && byte !== OPEN_BRACKET) {
          return this.fail(i, byte, lineWasBlank, "'{' or '[' to start a JSON document");
        }
        this.pushContainer(byte);
        this.index = i;
        return ScanEvent.DocumentStart;
      case State.ObjectStart:
        if (byte === QUOTE) return this.startString(true);
        if (byte === CLOSE_BRACE) return this.closeContainer(i);
        return this.fail(i, byte, lineWasBlank, "a string key or '}'");
      case State.Key:
        if (byte === QUOTE) return this.startString(true);
        return this.fail(i, byte, lineWasBlank, "a string key");
      case State.Colon:
        if (byte !== COLON) return this.fail(i, byte, lineWasBlank, "':'");
        this.state = State.Value;
        return ScanEvent.ChunkEnd;
      case State.ArrayStart:
        if (byte === CLOSE_BRACKET) return this.closeContainer(i);
        return this.startValue(i, byte, lineWasBlank, "a value or ']'");
      case State.Value:
        return this.startValue(i, byte, lineWasBlank, "a value");
      default:
        return this.scanAfterValue(i, byte, lineWasBlank);
    }
  }

  private scanAfterValue(i: number, byte: number, lineWasBlank: boolean): ScanEvent {
    const inObject = this.containers[this.depth - 1] === OBJECT;
    if (byte === COMMA) {
      this.state = inObject ? State.Key : State.Value;
      return ScanEvent.ChunkEnd;
    }
    if (byte === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) return this.closeContainer(i);
    return this.fail(i, byte, lineWasBlank, inObject ? "',' or '}'" : "',' or ']'");
  }

  private startValue(i: number, byte: number, lineWasBlank: boolean, expected: string): ScanEvent {
    const literal = LITERALS.get(byte);
    if (byte === QUOTE) return this.startString(false);

    if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (this.depth >= this.maxDepth) {
        return this.fail(i, byte, false, `at most ${this.maxDepth} levels of nesting`);
      }
      this.pushContainer(byte);
    } else if (byte === 0x2d || (byte >= 0x30 && byte <= 0x39)) {
      this.state = State.Number;
    } else if (literal !== undefined) {
      this.literal = literal;
      this.literalIndex = 1;
      this.state = State.Literal;
    } else {
      return this.fail(i, byte, lineWasBlank, expected);
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

  /** Reports a syntax error at `chunk[i]` and chooses where scanning resumes. */
  private fail(i: number, byte: number, lineWasBlank: boolean, expected: string): ScanEvent {
    this.index = i;
    this.expected = expected;
    this.errorInDocument = this.depth > 0;
    this.restarted = false;
    this.depth = 0;

    if (byte === LF) {
      this.state = State.Idle;
      this.lineBlank = true;
    } else if (
      this.errorInDocument &&
      lineWasBlank &&
      (byte === OPEN_BRACE || byte === OPEN_BRACKET)
    ) {
      this.restarted = true;
      this.pushContainer(byte);
    } else {
      this.state = State.SkipLine;
    }
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
