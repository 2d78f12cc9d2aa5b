import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  JsonFramer,
  type Frame,
  type FrameRejection,
  type JsonFramerOptions,
} from "../../gateway/json-framer.js";
import { fixturePath } from "../support/fixtures.js";
import { copied, fixedChunks, randomChunks, seededRandom } from "./chunking.js";

/** A frame without its detail text, which dedicated tests check. */
type FrameSummary =
  | { kind: "document"; value: unknown; offset: number; byteLength: number }
  | { kind: "rejected"; reason: FrameRejection; offset: number };

function summarize(frame: Frame): FrameSummary {
  if (frame.kind === "document") return frame;
  return { kind: "rejected", reason: frame.reason, offset: frame.offset };
}

function doc(value: unknown, offset: number, byteLength: number): FrameSummary {
  return { kind: "document", value, offset, byteLength };
}

function invalid(offset: number): FrameSummary {
  return { kind: "rejected", reason: "invalid_json", offset };
}

function oversize(offset: number): FrameSummary {
  return { kind: "rejected", reason: "oversize", offset };
}

/** Feeds every chunk to a new framer, ends the stream and returns all frames in order. */
function frameChunks(chunks: Buffer[], options?: JsonFramerOptions): Frame[] {
  const framer = new JsonFramer(options);
  const frames: Frame[] = [];
  for (const chunk of chunks) frames.push(...framer.push(chunk));
  frames.push(...framer.end());
  return frames;
}

/** Returns the ways to split an input: whole, byte by byte, fixed sizes and seeded random sizes. */
function chunkings(bytes: Buffer): [name: string, chunks: Buffer[]][] {
  const result: [string, Buffer[]][] = [
    ["whole", [bytes]],
    ["1-byte chunks", fixedChunks(bytes, 1)],
    ["2-byte chunks", fixedChunks(bytes, 2)],
    ["3-byte chunks", fixedChunks(bytes, 3)],
    ["7-byte chunks", copied(fixedChunks(bytes, 7))],
  ];
  for (let seed = 1; seed <= 6; seed++) {
    result.push([`random chunks, seed ${seed}`, randomChunks(bytes, seed)]);
  }
  result.push(["random chunks up to 4 KiB", randomChunks(bytes, 99, 4096)]);
  return result;
}

function assertFramesInEveryChunking(
  input: string | Buffer,
  expected: FrameSummary[],
  options?: JsonFramerOptions,
): void {
  const bytes = typeof input === "string" ? Buffer.from(input) : input;
  for (const [name, chunks] of chunkings(bytes)) {
    assert.deepEqual(frameChunks(chunks, options).map(summarize), expected, name);
  }
}

interface FramingCase {
  readonly name: string;
  readonly input: string;
  readonly expected: FrameSummary[];
  readonly options?: JsonFramerOptions;
}

const FRAMING_CASES: FramingCase[] = [
  {
    name: "newline-delimited documents",
    input: '{"a":1}\n{"b":2}\n',
    expected: [doc({ a: 1 }, 0, 7), doc({ b: 2 }, 8, 7)],
  },
  {
    name: "CRLF-delimited documents",
    input: '{"a":1}\r\n{"b":2}\r\n',
    expected: [doc({ a: 1 }, 0, 7), doc({ b: 2 }, 9, 7)],
  },
  {
    name: "documents without separator",
    input: '{"a":1}{"b":2}[3]',
    expected: [doc({ a: 1 }, 0, 7), doc({ b: 2 }, 7, 7), doc([3], 14, 3)],
  },
  {
    name: "blank lines and leading whitespace",
    input: '\n\r\n  \t{"a":1}\n\n   [1, 2]\n',
    expected: [doc({ a: 1 }, 6, 7), doc([1, 2], 18, 6)],
  },
  {
    name: "pretty-printed document",
    input: '{\n  "a": [\n    1,\n    {"b": null}\n  ],\n  "c": "d"\n}\n{"e":1}\n',
    expected: [doc({ a: [1, { b: null }], c: "d" }, 0, 51), doc({ e: 1 }, 52, 7)],
  },
  {
    name: "brackets, quotes and backslashes inside strings",
    input: '{"a":"}]{[\\"\\\\","b":["\\\\"]}\n',
    expected: [doc({ a: '}]{["\\', b: ["\\"] }, 0, 27)],
  },
  {
    name: "literals and numbers",
    input: "[true,false,null,-1.5e3,0,1E+2]\n",
    expected: [doc([true, false, null, -1500, 0, 100], 0, 31)],
  },
  {
    name: "nested empty containers",
    input: '{"a":{},"b":[],"c":[{},[]]}',
    expected: [doc({ a: {}, b: [], c: [{}, []] }, 0, 27)],
  },
  {
    name: "multi-byte characters",
    input: '{"name":"é€😀"}\n',
    expected: [doc({ name: "é€😀" }, 0, 20)],
  },
  {
    name: "final document without newline",
    input: '{"a":1}\n{"b":2}',
    expected: [doc({ a: 1 }, 0, 7), doc({ b: 2 }, 8, 7)],
  },
  {
    name: "garbage line then document",
    input: 'not json at all\n{"a":1}\n',
    expected: [invalid(0), doc({ a: 1 }, 16, 7)],
  },
  {
    name: "bare scalar lines",
    input: '42\n"text"\ntrue\n{"a":1}\n',
    expected: [invalid(0), invalid(3), invalid(10), doc({ a: 1 }, 15, 7)],
  },
  {
    name: "garbage after a document on its line",
    input: '{"a":1} trailing\n{"b":2}\n',
    expected: [doc({ a: 1 }, 0, 7), invalid(8), doc({ b: 2 }, 17, 7)],
  },
  {
    name: "stray closing bracket",
    input: '}\n{"a":1}\n',
    expected: [invalid(0), doc({ a: 1 }, 2, 7)],
  },
  {
    name: "missing value",
    input: '{"a":}\n{"b":1}\n',
    expected: [invalid(0), doc({ b: 1 }, 7, 7)],
  },
  {
    name: "unbalanced garbage line",
    input: '{oops\n{"b":1}\n',
    expected: [invalid(0), doc({ b: 1 }, 6, 7)],
  },
  {
    name: "truncated document before the next",
    input: '{"a":1\n{"b":2}\n',
    expected: [invalid(0), doc({ b: 2 }, 7, 7)],
  },
  {
    name: "unterminated string",
    input: '{"a":"open\n{"b":2}\n',
    expected: [invalid(0), doc({ b: 2 }, 11, 7)],
  },
  {
    name: "mismatched closing bracket",
    input: '{"a":[1}\n[2]\n',
    expected: [invalid(0), doc([2], 9, 3)],
  },
  {
    name: "misspelled literal",
    input: "[tru]\n[true]\n",
    expected: [invalid(0), doc([true], 6, 6)],
  },
  {
    name: "invalid number",
    input: '{"a":01}\n{"b":2}\n',
    expected: [invalid(0), doc({ b: 2 }, 9, 7)],
  },
  {
    name: "invalid string escape",
    input: '{"a":"\\q"}\n{"b":2}\n',
    expected: [invalid(0), doc({ b: 2 }, 11, 7)],
  },
  {
    name: "stream ends inside a document",
    input: '{"a":1}\n{"b":',
    expected: [doc({ a: 1 }, 0, 7), invalid(8)],
  },
  {
    name: "document at the size limit",
    input: '{"a":1}\n{"a":12}\n{"b":2}\n',
    options: { maxMessageBytes: 7 },
    expected: [doc({ a: 1 }, 0, 7), oversize(8), doc({ b: 2 }, 17, 7)],
  },
  {
    name: "oversize document with brackets in strings",
    input: '{"a":"}}]]{{[[","b":[{"c":"{"}]}\n{"ok":1}\n',
    options: { maxMessageBytes: 16 },
    expected: [oversize(0), doc({ ok: 1 }, 33, 8)],
  },
  {
    name: "oversize documents without separator",
    input: '{"a":"0123456789abcdef"}{"ok":1}{"b":"0123456789abcdef"}',
    options: { maxMessageBytes: 16 },
    expected: [oversize(0), doc({ ok: 1 }, 24, 8), oversize(32)],
  },
  {
    name: "oversize document with a syntax error",
    input: '{"a":"0123456789",}\n{"ok":1}\n',
    options: { maxMessageBytes: 8 },
    expected: [oversize(0), doc({ ok: 1 }, 20, 8)],
  },
  {
    name: "stream ends inside an oversize document",
    input: '{"ok":1}{"a":"0123456789',
    options: { maxMessageBytes: 8 },
    expected: [doc({ ok: 1 }, 0, 8), oversize(8)],
  },
  {
    name: "nesting deeper than maxDepth",
    input: '[[[1]]]\n[[[[1]]]]\n{"ok":1}\n',
    options: { maxDepth: 3 },
    expected: [doc([[[1]]], 0, 7), invalid(8), doc({ ok: 1 }, 18, 8)],
  },
  {
    name: "deep nesting, then same-line document",
    input: '[[[[1]]]]{"ok":1}[[[[["]"]]]]]{"ok":2}',
    options: { maxDepth: 3 },
    expected: [invalid(0), doc({ ok: 1 }, 9, 8), invalid(17), doc({ ok: 2 }, 30, 8)],
  },
  {
    name: "stray byte between documents",
    input: '{"a":1}x{"b":2}',
    expected: [doc({ a: 1 }, 0, 7), invalid(7), doc({ b: 2 }, 8, 7)],
  },
  {
    name: "garbage run between documents",
    input: '{"a":1} , junk ,\t{"b":2}',
    expected: [doc({ a: 1 }, 0, 7), invalid(8), doc({ b: 2 }, 17, 7)],
  },
  {
    name: "garbage before an array",
    input: "junk[1]junk\n[2]",
    expected: [invalid(0), doc([1], 4, 3), invalid(7), doc([2], 12, 3)],
  },
  {
    name: "garbage at stream end",
    input: '{"a":1} tail ',
    expected: [doc({ a: 1 }, 0, 7), invalid(8)],
  },
  {
    name: "NUL bytes between documents",
    input: '{"a":1}\0\0\0{"b":2}\n\0\n{"c":3}',
    expected: [
      doc({ a: 1 }, 0, 7),
      invalid(7),
      doc({ b: 2 }, 10, 7),
      invalid(18),
      doc({ c: 3 }, 20, 7),
    ],
  },
  {
    name: "byte order mark before a document",
    input: '\ufeff{"a":1}\ufeff{"b":2}\n\ufeff\ufeff [3]',
    expected: [doc({ a: 1 }, 3, 7), doc({ b: 2 }, 13, 7), doc([3], 28, 3)],
  },
  {
    name: "RFC 7464 record separators",
    input: '\x1e{"a":1}\n\x1e{"b":2}\n\x1e\x1e[3]\x1e',
    expected: [doc({ a: 1 }, 1, 7), doc({ b: 2 }, 10, 7), doc([3], 20, 3)],
  },
  {
    name: "record separator inside a document",
    input: '{"a":\x1e1}\n{"b":2}',
    expected: [invalid(0), doc({ b: 2 }, 9, 7)],
  },
  {
    name: "truncated nested document, next line",
    input: '{"a":{"b":1}\n{"c":2}{"d":3}\n',
    expected: [invalid(0), doc({ c: 2 }, 13, 7), doc({ d: 3 }, 20, 7)],
  },
  {
    name: "truncated document mid-line",
    input: '{"a":1{"b":2}',
    expected: [invalid(0), doc({ b: 2 }, 6, 7)],
  },
  {
    name: "truncated string mid-line",
    input: '{"a":"cut{"b":2}{"c":3}',
    expected: [invalid(0), doc({ c: 3 }, 16, 7)],
  },
  {
    name: "corrupt document closed mid-line",
    input: '{"a":1{"b":2}}{"c":3}',
    expected: [invalid(0), doc({ b: 2 }, 6, 7), invalid(13), doc({ c: 3 }, 14, 7)],
  },
  {
    name: "error resumes at next document",
    input: '{"a":x,"b":2}{"c":3}',
    expected: [invalid(0), doc({ c: 3 }, 13, 7)],
  },
];

describe("JsonFramer framing", () => {
  for (const { name, input, expected, options } of FRAMING_CASES) {
    test(name, () => {
      assertFramesInEveryChunking(input, expected, options);
    });
  }
});

/** A document, or other bytes that the framer rejects once or skips silently. */
type StreamPart =
  { readonly document: string } | { readonly text: string | Buffer; readonly rejected: boolean };

/**
 * Concatenates `parts` into one stream and returns it with the frames expected from it. A
 * rejected part must not start with whitespace, because its rejection's offset is its first
 * byte.
 */
function buildStream(parts: StreamPart[]): { bytes: Buffer; expected: FrameSummary[] } {
  const buffers: Buffer[] = [];
  const expected: FrameSummary[] = [];
  let offset = 0;
  for (const part of parts) {
    const bytes = Buffer.from("document" in part ? part.document : part.text);
    if ("document" in part) {
      expected.push(doc(JSON.parse(part.document), offset, bytes.length));
    } else if (part.rejected) {
      expected.push(invalid(offset));
    }
    buffers.push(bytes);
    offset += bytes.length;
  }
  return { bytes: Buffer.concat(buffers), expected };
}

/** Returns `{"n":0}`, `{"n":1}` and so on as document parts. */
function numberedDocuments(count: number): StreamPart[] {
  return Array.from({ length: count }, (_, n) => ({ document: `{"n":${n}}` }));
}

/**
 * Frames the stream of `parts` in every chunking, checks the frames byte-exact and checks the
 * counts of documents and rejections.
 */
function assertStreamInEveryChunking(
  parts: StreamPart[],
  documentCount: number,
  rejectionCount: number,
): void {
  const { bytes, expected } = buildStream(parts);
  const documents = expected.filter((frame) => frame.kind === "document");
  assert.equal(documents.length, documentCount, "documents in the expected frames");
  assert.equal(expected.length - documents.length, rejectionCount, "rejections expected");
  assertFramesInEveryChunking(bytes, expected);
}

describe("JsonFramer recovery on one line", () => {
  const documents = numberedDocuments(101);
  const byteOrderMark = Buffer.from([0xef, 0xbb, 0xbf]);

  test("stray letter after the first document", () => {
    const parts = [documents[0]!, { text: "x", rejected: true }, ...documents.slice(1)];
    assertStreamInEveryChunking(parts, 101, 1);
  });

  test("stray comma after the first document", () => {
    const parts = [documents[0]!, { text: ",", rejected: true }, ...documents.slice(1)];
    assertStreamInEveryChunking(parts, 101, 1);
  });

  test("record separator before each document", () => {
    const parts = documents.flatMap((part) => [{ text: "\x1e", rejected: false }, part]);
    assertStreamInEveryChunking(parts, 101, 0);
  });

  test("first document missing its closing brace", () => {
    const parts = [{ text: '{"n":0', rejected: true }, ...documents.slice(1)];
    assertStreamInEveryChunking(parts, 100, 1);
  });

  test("NUL bytes between documents", () => {
    const parts = documents.flatMap((part, n) =>
      n === 0 ? [part] : [{ text: "\0\0\0", rejected: true }, part],
    );
    assertStreamInEveryChunking(parts, 101, 100);
  });

  test("byte order mark at stream start", () => {
    const parts = [{ text: byteOrderMark, rejected: false }, ...documents];
    assertStreamInEveryChunking(parts, 101, 0);
  });

  test("byte order mark before each document", () => {
    const parts = documents.flatMap((part) => [{ text: byteOrderMark, rejected: false }, part]);
    assertStreamInEveryChunking(parts, 101, 0);
  });

  test("partial byte order mark is rejected", () => {
    const parts = [
      { text: byteOrderMark.subarray(0, 2), rejected: true },
      ...documents.slice(0, 50),
      { text: byteOrderMark.subarray(0, 1), rejected: true },
      ...documents.slice(50),
      { text: byteOrderMark.subarray(0, 2), rejected: true },
    ];
    assertStreamInEveryChunking(parts, 101, 3);
  });
});

describe("JsonFramer fixtures", () => {
  test("one.ndjson", () => {
    const bytes = readFileSync(fixturePath("one.ndjson"));
    const value = { "0": { data: { ObjectName: "app/db-password" } } };
    assertFramesInEveryChunking(bytes, [doc(value, 0, 47)]);
  });

  test("pretty.json", () => {
    const bytes = readFileSync(fixturePath("pretty.json"));
    const value = { "0": { data: { ObjectName: "payments/stripe-key" } } };
    assertFramesInEveryChunking(bytes, [doc(value, 0, 78)]);
  });

  test("vault-kv2-update.json, a 7 KiB pretty document", () => {
    const bytes = readFileSync(fixturePath("vault-kv2-update.json"));
    const text = bytes.toString("utf8");
    const byteLength = Buffer.byteLength(text.trimEnd());
    assert.ok(byteLength > 4096, `fixture is only ${byteLength} bytes`);
    assertFramesInEveryChunking(bytes, [doc(JSON.parse(text), 0, byteLength)]);
  });

  test("vault-audit-stream.ndjson", () => {
    const bytes = readFileSync(fixturePath("vault-audit-stream.ndjson"));
    const expected: FrameSummary[] = [];
    let offset = 0;
    for (const line of bytes.toString("utf8").split("\n")) {
      if (line.length > 0) expected.push(doc(JSON.parse(line), offset, Buffer.byteLength(line)));
      offset += Buffer.byteLength(line) + 1;
    }
    assert.equal(expected.length, 7);
    assertFramesInEveryChunking(bytes, expected);
  });

  test("mixed-stream.bin", () => {
    const bytes = readFileSync(fixturePath("mixed-stream.bin"));
    const named = (name: unknown) => ({ "0": { data: { ObjectName: name } } });
    assertFramesInEveryChunking(bytes, [
      doc(named("site-template"), 0, 45),
      doc(named("shared-tls"), 49, 42),
      doc(named("web/api-token"), 91, 45),
      doc(named("nothing/here"), 139, 44),
      invalid(184),
      doc(named(42), 200, 32),
      doc({ "0": { data: {} } }, 233, 17),
      doc(named("app/db-password"), 251, 47),
    ]);
  });
});

describe("JsonFramer chunk boundaries", () => {
  test("multi-byte characters split at every byte", () => {
    const bytes = Buffer.from('{"name":"é€😀"}');
    for (let split = 1; split < bytes.length; split++) {
      const frames = frameChunks([bytes.subarray(0, split), bytes.subarray(split)]);
      assert.deepEqual(frames.map(summarize), [doc({ name: "é€😀" }, 0, 20)], `split at ${split}`);
    }
  });

  test("escape split from its character", () => {
    const bytes = Buffer.from('{"a":"\\"}"}\n');
    const backslash = bytes.indexOf(0x5c);
    const frames = frameChunks([bytes.subarray(0, backslash + 1), bytes.subarray(backslash + 1)]);
    assert.deepEqual(frames.map(summarize), [doc({ a: '"}' }, 0, 11)]);
  });

  test("8 KiB document in random chunks", () => {
    const value = { "0": { data: { ObjectName: "big/secret", padding: "é".repeat(4096) } } };
    const text = JSON.stringify(value);
    const byteLength = Buffer.byteLength(text);
    assert.ok(byteLength > 8192, `document is only ${byteLength} bytes`);
    assertFramesInEveryChunking(`${text}\n${text}`, [
      doc(value, 0, byteLength),
      doc(value, byteLength + 1, byteLength),
    ]);
  });
});

describe("JsonFramer size limit", () => {
  test("oversize document is not buffered", () => {
    const framer = new JsonFramer({ maxMessageBytes: 1024 });
    const filler = Buffer.alloc(1000, "x");

    assert.deepEqual(framer.push(Buffer.from('{"a":"')), []);
    assert.equal(framer.bufferedBytes, 6);
    assert.deepEqual(framer.push(filler), []);
    assert.equal(framer.bufferedBytes, 1006);

    for (let i = 0; i < 100; i++) {
      assert.deepEqual(framer.push(filler), []);
      assert.equal(framer.bufferedBytes, 0, `after filler chunk ${i}`);
    }

    const frames = framer.push(Buffer.from('"}\n{"ok":1}\n'));
    assert.deepEqual(frames.map(summarize), [oversize(0), doc({ ok: 1 }, 101_009, 8)]);
    assert.equal(framer.bufferedBytes, 0);
  });

  test("oversize detail names both sizes", () => {
    const frames = frameChunks([Buffer.from('{"a":"0123456789"}')], { maxMessageBytes: 8 });
    assert.equal(frames.length, 1);
    assert.equal(
      frames[0]?.kind === "rejected" ? frames[0].detail : undefined,
      "the document at byte 0 is larger than the limit of 8 bytes (18 bytes read); " +
        "raise maxMessageBytes or send smaller documents",
    );
  });

  test("default limit is 1 MiB", () => {
    const under = `{"a":"${"x".repeat(1024 * 1024 - 8)}"}`;
    const over = `{"a":"${"x".repeat(1024 * 1024 - 7)}"}`;
    assert.equal(Buffer.byteLength(under), 1024 * 1024);
    const frames = frameChunks(fixedChunks(Buffer.from(`${under}\n${over}\n`), 65536));
    assert.deepEqual(
      frames.map((frame) => (frame.kind === "document" ? "document" : frame.reason)),
      ["document", "oversize"],
    );
  });

  test("constructor rejects a zero limit", () => {
    assert.throws(() => new JsonFramer({ maxMessageBytes: 0 }), /maxMessageBytes must be/);
  });
});

describe("JsonFramer rejection details", () => {
  const cases: [name: string, input: string, detail: string][] = [
    [
      "garbage line",
      "not json\n",
      "skipped 8 bytes of invalid JSON at byte 0; expected '{' or '[' to start a JSON document",
    ],
    [
      "unexpected byte",
      '{"a":1]\n',
      "unexpected ']' at byte 6 in the document at byte 0; expected ',' or '}'",
    ],
    [
      "control byte",
      '{"a":\x01}\n',
      "unexpected byte 0x01 at byte 5 in the document at byte 0; expected a value",
    ],
    [
      "JSON.parse failure",
      '{"a":01}',
      "the document of 8 bytes at byte 0 contains an invalid number or string",
    ],
    ["stream end", '{"a":1}{"b"', "the stream ended inside the document at byte 7 after 4 bytes"],
  ];
  for (const [name, input, detail] of cases) {
    test(name, () => {
      const rejections = frameChunks([Buffer.from(input)]).filter(
        (frame) => frame.kind === "rejected",
      );
      assert.deepEqual(
        rejections.map((frame) => frame.detail),
        [detail],
      );
    });
  }

  const skippedCases: [name: string, input: string | Buffer, detail: string][] = [
    [
      "stray byte between documents",
      '{"a":1}x{"b":2}',
      "skipped 1 byte of invalid JSON at byte 7; expected '{' or '[' to start a JSON document",
    ],
    [
      "garbage line then document",
      'not json at all\r\n{"a":1}\n',
      "skipped 15 bytes of invalid JSON at byte 0; expected '{' or '[' to start a JSON document",
    ],
    [
      "garbage at stream end",
      '{"a":1} tail \t',
      "skipped 4 bytes of invalid JSON at byte 8; expected '{' or '[' to start a JSON document",
    ],
    [
      "partial byte order mark",
      Buffer.from([0xef, 0xbb, 0x7b, 0x7d]),
      "skipped 2 bytes of invalid JSON at byte 0; expected '{' or '[' to start a JSON document",
    ],
  ];
  for (const [name, input, detail] of skippedCases) {
    test(`skipped text: ${name}`, () => {
      const bytes = Buffer.from(input);
      for (const [chunking, chunks] of chunkings(bytes)) {
        const rejections = frameChunks(chunks).filter((frame) => frame.kind === "rejected");
        assert.deepEqual(
          rejections.map((frame) => frame.detail),
          [detail],
          chunking,
        );
      }
    });
  }

  test("skipped text is not quoted", () => {
    const input = '{"a":1}password=hunter2{"b":2}\npassword=hunter2';
    const rejections = frameChunks([Buffer.from(input)]).filter(
      (frame) => frame.kind === "rejected",
    );
    assert.equal(rejections.length, 2);
    for (const frame of rejections) {
      assert.ok(
        frame.kind === "rejected" && !frame.detail.includes("hunter2"),
        JSON.stringify(frame),
      );
    }
  });

  test("details never quote the payload", () => {
    const input = 'password=hunter2\n{"password":"hunter2","n":01}\n{"password":"hunter2",x}\n';
    const frames = frameChunks([Buffer.from(input)]);
    assert.equal(frames.length, 3);
    for (const frame of frames) {
      assert.equal(frame.kind, "rejected");
      assert.ok(
        frame.kind === "rejected" && !frame.detail.includes("hunter2"),
        JSON.stringify(frame),
      );
    }
  });
});

/** Builds a random JSON value of bounded depth from `random`. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 5 : 7));
  const strings = ["", "plain", 'quote " and \\ backslash', "}{][,:", "é€😀", "\u0001\t\n"];
  switch (pick) {
    case 0:
      return Math.floor(random() * 2000) - 1000;
    case 1:
      return random() * 1e6;
    case 2:
      return strings[Math.floor(random() * strings.length)];
    case 3:
      return [true, false, null][Math.floor(random() * 3)];
    case 4:
      return random() < 0.5 ? [] : {};
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default: {
      const entries = Array.from({ length: Math.floor(random() * 4) }, (_, i) => [
        `${strings[Math.floor(random() * strings.length)]}${i}`,
        randomValue(random, depth + 1),
      ]);
      return Object.fromEntries(entries);
    }
  }
}

describe("JsonFramer generated streams", () => {
  test("random documents survive every chunking", () => {
    const random = seededRandom(2024);
    const separators = ["\n", "\r\n", "", " ", "\n\n  ", "\t"];
    for (let round = 0; round < 40; round++) {
      const values: unknown[] = [];
      let text = "";
      for (let i = 0; i < 5; i++) {
        const value = random() < 0.5 ? [randomValue(random, 1)] : { key: randomValue(random, 1) };
        values.push(value);
        text += JSON.stringify(value, null, random() < 0.3 ? 2 : undefined);
        text += separators[Math.floor(random() * separators.length)];
      }
      for (const [name, chunks] of chunkings(Buffer.from(text))) {
        const frames = frameChunks(chunks);
        assert.deepEqual(
          frames.map((frame) => (frame.kind === "document" ? frame.value : frame.reason)),
          values,
          `round ${round}, ${name}`,
        );
      }
    }
  });

  test("documents survive random garbage", () => {
    const random = seededRandom(1464);
    // Each separator is either skipped silently or rejected once. None contains a newline,
    // '{' or '[', which would end a stretch of garbage early.
    const separators: [text: string | Buffer, rejected: boolean][] = [
      ["", false],
      ["\r\n", false],
      ["\x1e", false],
      [Buffer.from([0xef, 0xbb, 0xbf]), false],
      ["x", true],
      [",", true],
      ["\0\0", true],
      ["} ]", true],
      ['"text" 42 \t', true],
      [Buffer.from([0xef, 0xbb]), true],
      [Buffer.from([0xff, 0xfe, 0x1e]), true],
    ];
    for (let round = 0; round < 40; round++) {
      const parts: StreamPart[] = [];
      for (let i = 0; i < 6; i++) {
        const [text, rejected] = separators[Math.floor(random() * separators.length)]!;
        parts.push({ text, rejected });
        const value = random() < 0.5 ? [randomValue(random, 1)] : { key: randomValue(random, 1) };
        parts.push({ document: JSON.stringify(value) });
      }
      const { bytes, expected } = buildStream(parts);
      for (const [name, chunks] of chunkings(bytes)) {
        assert.deepEqual(frameChunks(chunks).map(summarize), expected, `round ${round}, ${name}`);
      }
    }
  });

  test("one-byte corruptions agree with JSON.parse", () => {
    const random = seededRandom(7);
    const alphabet = Buffer.from('{}[]":,\\ \n0123456789-+.eEtrufalsn"x');
    for (let round = 0; round < 2000; round++) {
      const original = Buffer.from(JSON.stringify({ k: randomValue(random, 1), n: [1, "s"] }));
      const corrupted = Buffer.from(original);
      const position = Math.floor(random() * corrupted.length);
      corrupted[position] = alphabet[Math.floor(random() * alphabet.length)]!;

      const frames = frameChunks(randomChunks(corrupted, round));
      let parsed: unknown;
      try {
        parsed = JSON.parse(corrupted.toString("utf8"));
      } catch {
        parsed = undefined;
      }
      const label = `round ${round}: ${corrupted.toString("utf8")}`;
      if (typeof parsed === "object" && parsed !== null) {
        assert.deepEqual(frames.map(summarize), [doc(parsed, 0, corrupted.length)], label);
      } else {
        const rejected = frames.some((frame) => frame.kind === "rejected");
        assert.ok(rejected || frames.length > 1, label);
      }
    }
  });
});
