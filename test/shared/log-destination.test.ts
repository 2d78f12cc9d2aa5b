import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { closeSync, constants, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { StdoutDestination } from "../../shared/log-destination.js";

describe("stdout log destination", () => {
  it("writes whole lines", async () => {
    const directory = await mkdtemp(join(tmpdir(), "log-destination-"));
    const file = join(directory, "log");
    const fd = openSync(file, "w");
    try {
      const destination = new StdoutDestination(fd);
      destination.write('{"msg":"one"}\n');
      destination.write(`${JSON.stringify({ msg: "x".repeat(200_000) })}\n`);
      assert.equal(destination.isBroken, false);
    } finally {
      closeSync(fd);
    }

    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.equal(lines[0], '{"msg":"one"}');
    assert.equal((JSON.parse(lines[1] ?? "{}") as { msg: string }).msg.length, 200_000);
    await rm(directory, { recursive: true, force: true });
  });

  it("drops lines once the reader is gone", async () => {
    const directory = await mkdtemp(join(tmpdir(), "log-destination-"));
    const fifo = join(directory, "pipe");
    execFileSync("mkfifo", [fifo]);
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(fifo, constants.O_WRONLY);
    closeSync(readFd);

    try {
      const destination = new StdoutDestination(writeFd);
      destination.write('{"msg":"lost"}\n');
      assert.equal(destination.isBroken, true);
      destination.write('{"msg":"also lost"}\n');
      assert.equal(destination.isBroken, true);
    } finally {
      closeSync(writeFd);
      await rm(directory, { recursive: true, force: true });
    }
  });
});
