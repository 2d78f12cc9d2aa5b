import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { JsonFramer, type Frame } from "../../gateway/json-framer.js";
import { LinePrefixStripper } from "../../gateway/line-prefix.js";
import { fixturePath } from "../support/fixtures.js";
import { fixedChunks, randomChunks } from "./chunking.js";

const PREFIX = "vault-audit: ";

function framesOf(chunks: readonly Buffer[], prefix = PREFIX): Frame[] {
  const stripper = new LinePrefixStripper(prefix, new JsonFramer());
  const frames = chunks.flatMap((chunk) => stripper.push(chunk));
  return [...frames, ...stripper.end()];
}

function documents(frames: readonly Frame[]): unknown[] {
  return frames.filter((frame) => frame.kind === "document").map((frame) => frame.value);
}

function rejections(frames: readonly Frame[]): string[] {
  return frames.filter((frame) => frame.kind === "rejected").map((frame) => frame.reason);
}

function prefixedStream(): { text: Buffer; values: unknown[] } {
  const lines = readFileSync(fixturePath("vault-audit-stream.ndjson"), "utf8")
    .split("\n")
    .filter((line) => line !== "");
  const text = Buffer.from(lines.map((line) => `${PREFIX}${line}\n`).join(""));
  return { text, values: lines.map((line) => JSON.parse(line) as unknown) };
}

describe("LinePrefixStripper", () => {
  test("strips the prefix of each line", () => {
    const frames = framesOf([Buffer.from(`${PREFIX}{"a":1}\n${PREFIX}{"b":2}\n`)]);
    assert.deepEqual(documents(frames), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(rejections(frames), []);
  });

  test("vault stream in one chunk", () => {
    const { text, values } = prefixedStream();
    const frames = framesOf([text]);
    assert.deepEqual(documents(frames), values);
    assert.deepEqual(rejections(frames), []);
  });

  test("vault stream split byte by byte", () => {
    const { text, values } = prefixedStream();
    const frames = framesOf(fixedChunks(text, 1));
    assert.deepEqual(documents(frames), values);
    assert.deepEqual(rejections(frames), []);
  });

  test("vault stream in random chunks", () => {
    const { text, values } = prefixedStream();
    for (const seed of [1, 2, 3, 42]) {
      const frames = framesOf(randomChunks(text, seed, 23));
      assert.deepEqual(documents(frames), values, `seed ${seed}`);
      assert.deepEqual(rejections(frames), [], `seed ${seed}`);
    }
  });

  test("line without the prefix passes unchanged", () => {
    const frames = framesOf([Buffer.from(`{"a":1}\n${PREFIX}{"b":2}\n`)]);
    assert.deepEqual(documents(frames), [{ a: 1 }, { b: 2 }]);
  });

  test("partial prefix is kept and rejected", () => {
    // "vault-" matches the start of the prefix, then the line leaves it.
    const frames = framesOf([Buffer.from(`vault-{"a":1}\n`), Buffer.from(`${PREFIX}{"b":2}\n`)]);
    assert.deepEqual(documents(frames), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(rejections(frames), ["invalid_json"]);
  });

  test("partial prefix split across chunks", () => {
    const frames = framesOf([Buffer.from("vau"), Buffer.from(`lt-x {"a":1}\n`)]);
    assert.deepEqual(documents(frames), [{ a: 1 }]);
    assert.deepEqual(rejections(frames), ["invalid_json"]);
  });

  test("prefix only inside a line is kept", () => {
    const frames = framesOf([Buffer.from(`${PREFIX}{"a":"${PREFIX}"}\n`)]);
    assert.deepEqual(documents(frames), [{ a: PREFIX }]);
  });

  test("stream ending inside the prefix", () => {
    const frames = framesOf([Buffer.from(`${PREFIX}{"a":1}\nvault`)]);
    assert.deepEqual(documents(frames), [{ a: 1 }]);
    assert.deepEqual(rejections(frames), ["invalid_json"]);
  });

  test("CRLF line ends", () => {
    const frames = framesOf([Buffer.from(`${PREFIX}{"a":1}\r\n${PREFIX}{"b":2}\r\n`)]);
    assert.deepEqual(documents(frames), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(rejections(frames), []);
  });

  test("multi-byte prefix", () => {
    const frames = framesOf(fixedChunks(Buffer.from(`→ {"a":1}\n→ {"b":2}\n`), 1), "→ ");
    assert.deepEqual(documents(frames), [{ a: 1 }, { b: 2 }]);
  });

  test("invalid prefix is rejected", () => {
    assert.throws(() => new LinePrefixStripper("", new JsonFramer()), /non-empty single line/);
    assert.throws(() => new LinePrefixStripper("a\nb", new JsonFramer()), /non-empty single line/);
  });
});
