import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { entryPoint } from "../../launcher/tier-process.js";

const run = promisify(execFile);

/** Returns the environment without REDIS_URL, so the demo starts its own redis-server. */
function demoEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.REDIS_URL;
  return env;
}

describe("demo", () => {
  it("--once patches the example targets", { timeout: 120_000 }, async () => {
    const { stdout } = await run(process.execPath, [entryPoint("launcher/demo.js"), "--once"], {
      env: demoEnv(),
      timeout: 90_000,
    });

    const summary = stdout.slice(stdout.indexOf("patched 5 ExternalSecret(s):"));
    const listed = summary
      .split("\n")
      .slice(1)
      .map((line) => line.trim())
      .filter((line) => line !== "");
    assert.deepEqual(listed, [
      "payments/db-credentials",
      "payments/stripe",
      "sandbox/db-credentials",
      "web/all-app-secrets",
      "web/rendered-config",
    ]);
    assert.ok(!stdout.includes("payments/unrelated"), "payments/unrelated must not be patched");
  });

  it("prints a send line that works", { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [entryPoint("launcher/demo.js")], {
      env: demoEnv(),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    const seen: string[] = [];
    let port = 0;
    let sent = false;

    try {
      for await (const line of lines) {
        seen.push(line);
        const listening = /gateway listening on 127\.0\.0\.1:(\d+)/.exec(line);
        if (listening) port = Number(listening[1]);
        if (line.trim().startsWith("printf") && line.includes("| nc -N 127.0.0.1 ")) {
          assert.ok(line.trim().endsWith(` ${port}`), `the nc line names port ${port}: ${line}`);
        }
        if (line.trim().startsWith("printf") && line.includes("| socat - TCP:127.0.0.1:")) {
          await run("sh", ["-c", line.trim()], { timeout: 10_000 });
          sent = true;
        }
        if (line.startsWith("patched ExternalSecret web/all-app-secrets ")) break;
      }
      child.stdout.resume();
      assert.ok(port > 0, `no listening line in:\n${seen.join("\n")}`);
      assert.ok(sent, `no socat line in:\n${seen.join("\n")}`);
    } finally {
      child.kill("SIGINT");
    }

    const [code] = await once(child, "exit");
    assert.equal(code, 0);
  });
});
