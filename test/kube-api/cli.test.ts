import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";

import { parse as parseYaml } from "yaml";

import { cliPath, clusterFixture, externalSecretsPath, requestJson } from "./suite-helpers.js";

interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcessWithoutNullStreams[] = [];
let directory: string | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
  }
  if (directory !== undefined) {
    await rm(directory, { recursive: true, force: true });
    directory = undefined;
  }
});

function runCli(args: string[]): RunningCli {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);

  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

/** Waits for the `listening` line and returns the URL in it. */
async function waitForUrl(cli: RunningCli, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(cli.stdout());
    if (match?.[1] !== undefined) {
      return match[1];
    }
    if (cli.child.exitCode !== null) {
      throw new Error(
        `the CLI exited with ${cli.child.exitCode} before listening; stderr:\n${cli.stderr()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(
    `the CLI printed no listening line within ${timeoutMs} ms; stderr:\n${cli.stderr()}`,
  );
}

describe("kube-api CLI", () => {
  it("serves the loaded fixture and exits 0 on SIGTERM", async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-api-cli-"));
    const kubeconfig = join(directory, "kubeconfig");
    const cli = runCli(["--port", "0", "--load", clusterFixture, "--kubeconfig", kubeconfig]);
    const url = await waitForUrl(cli);

    assert.equal(cli.stdout(), `kube-api emulator listening on ${url}\n`);
    const list = await requestJson(url, "GET", externalSecretsPath());
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 6);

    const config = parseYaml(await readFile(kubeconfig, "utf8"));
    assert.equal(config.clusters[0].cluster.server, url);
    assert.equal(config.clusters[0].cluster["insecure-skip-tls-verify"], true);

    cli.child.kill("SIGTERM");
    assert.deepEqual(await cli.exit, { code: 0, signal: null });
    assert.equal(
      cli
        .stdout()
        .split("\n")
        .filter((line) => line.includes("listening")).length,
      1,
    );
  });

  it("exits 0 on SIGINT with an open watch", async () => {
    const cli = runCli(["--port", "0", "--load", clusterFixture, "--log-level", "silent"]);
    const url = await waitForUrl(cli);
    const watch = await fetch(`${url}${externalSecretsPath()}?watch=true`);
    assert.equal(watch.status, 200);

    cli.child.kill("SIGINT");
    assert.deepEqual(await cli.exit, { code: 0, signal: null });
    await watch.body?.cancel().catch(() => undefined);
  });

  it("prints help listing the flags", async () => {
    const cli = runCli(["--help"]);
    assert.deepEqual(await cli.exit, { code: 0, signal: null });
    for (const flag of [
      "--port",
      "--host",
      "--load",
      "--kubeconfig",
      "--history-limit",
      "--log-level",
      "--help",
    ]) {
      assert.ok(cli.stdout().includes(flag), `help does not mention ${flag}`);
    }
  });

  it("exits 2 for an unknown flag", async () => {
    const cli = runCli(["--prot", "8080"]);
    assert.deepEqual(await cli.exit, { code: 2, signal: null });
    assert.match(cli.stderr(), /Unknown option '--prot'/);
  });

  it("exits 2 for an invalid port", async () => {
    const cli = runCli(["--port", "http"]);
    assert.deepEqual(await cli.exit, { code: 2, signal: null });
    assert.match(cli.stderr(), /--port must be an integer/);
  });

  it("exits 1 naming a fixture that cannot load", async () => {
    const cli = runCli([
      "--port",
      "0",
      "--load",
      "/nonexistent/cluster.yaml",
      "--log-level",
      "silent",
    ]);
    assert.deepEqual(await cli.exit, { code: 1, signal: null });
    assert.match(cli.stderr(), /cannot read fixture file \/nonexistent\/cluster\.yaml/);
    assert.equal(cli.stdout(), "");
  });
});
