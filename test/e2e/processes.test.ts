import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { CoreV1Api } from "@kubernetes/client-node";
import { watchPatches, type PatchSighting } from "../../launcher/patch-watch.js";
import { freePort } from "../../launcher/private-redis.js";
import { entryPoint, isReadyLine, startTierWhenReady } from "../../launcher/tier-process.js";
import { startKubeApiEmulator, type KubeApiEmulator } from "../kube-api/emulator.js";
import { fixturePath } from "../support/fixtures.js";
import { sendOverTcp, TEST_REDIS_URL } from "../support/pipeline.js";

const run = promisify(execFile);

/** Runs an entry point to completion and returns its exit code and output. */
async function runEntry(entry: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await run(process.execPath, [entryPoint(entry), ...args], {
      env,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe("tier processes", () => {
  let directory: string;
  let emulator: KubeApiEmulator;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "processes-"));
    emulator = await startKubeApiEmulator({ load: [fixturePath("cluster.yaml")] });
    await emulator.writeKubeconfig(join(directory, "kubeconfig"));
  });

  after(async () => {
    await emulator.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("--help lists flags and variables", async () => {
    for (const entry of ["gateway/main.js", "worker/main.js"]) {
      const { code, stdout } = await runEntry(entry, ["--help"]);
      assert.equal(code, 0);
      for (const text of ["--config", "CONFIG_FILE", "REDIS_URL", "QUEUE_PREFIX", "[default:"]) {
        assert.ok(stdout.includes(text), `${entry} --help mentions ${text}`);
      }
    }
  });

  it("invalid config exits 1 naming the field", async () => {
    const file = join(directory, "bad.yaml");
    const text = await readFile(fixturePath("config-default.yaml"), "utf8");
    await writeFile(file, text.replace("port: 8000", "port: 80a"));

    for (const entry of ["gateway/main.js", "worker/main.js"]) {
      const { code, stderr } = await runEntry(entry, ["--config", file]);
      assert.equal(code, 1, entry);
      assert.ok(
        stderr.includes(
          'spec.notificationSources[0].tcpSocket.port: must be an integer from 1 to 65535, got "80a"',
        ),
        `${entry} stderr: ${stderr}`,
      );
    }
  });

  it("unsupported source type exits 1 naming it", async () => {
    const file = join(directory, "sqs.yaml");
    await writeFile(
      file,
      `apiVersion: reloader.external-secrets.io/v1alpha1
kind: Config
metadata:
  name: sqs
spec:
  notificationSources:
    - type: AwsSqs
  destinationsToWatch:
    - externalSecret: {}
`,
    );
    const { code, stderr } = await runEntry("gateway/main.js", ["--config", file]);
    assert.equal(code, 1);
    assert.match(stderr, /spec\.notificationSources\[0\]\.type: source type "AwsSqs"/);
  });

  it("worker without credentials exits 1", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: directory };
    delete env.KUBECONFIG;
    const { code, stderr } = await runEntry(
      "worker/main.js",
      ["--config", fixturePath("config-default.yaml")],
      env,
    );
    assert.equal(code, 1);
    assert.match(stderr, /no Kubernetes credentials found: KUBECONFIG is unset/);
  });

  /** Writes a Config with one Webhook source on 127.0.0.1 that requires a bearer token. */
  async function webhookAuthConfig(port: number): Promise<string> {
    const file = join(directory, `webhook-auth-${port}.yaml`);
    await writeFile(
      file,
      [
        "apiVersion: reloader.external-secrets.io/v1alpha1",
        "kind: Config",
        "metadata: {name: webhook-auth}",
        "spec:",
        "  notificationSources:",
        "    - type: Webhook",
        "      webhook:",
        `        address: 127.0.0.1:${port}`,
        "        webhookAuth:",
        "          bearerToken:",
        "            bearerTokenSecretRef: {namespace: payments, name: webhook-token, key: token}",
        "  destinationsToWatch:",
        "    - externalSecret: {}",
        "",
      ].join("\n"),
    );
    return file;
  }

  it("gateway without credentials for webhookAuth exits 1", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: directory };
    delete env.KUBECONFIG;
    const configFile = await webhookAuthConfig(await freePort());
    const { code, stderr } = await runEntry(
      "gateway/main.js",
      ["--config", configFile, "--http-port", "0"],
      env,
    );
    assert.equal(code, 1);
    assert.match(stderr, /no Kubernetes credentials found/);
    assert.match(stderr, /pass --webhook-credentials files/);
  });

  it("gateway reads webhookAuth Secrets through the API", { timeout: 60_000 }, async () => {
    const token = randomBytes(12).toString("hex");
    const api = emulator.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespacedSecret({
      namespace: "payments",
      body: {
        metadata: { name: "webhook-token" },
        data: { token: Buffer.from(token).toString("base64") },
      },
    });
    const port = await freePort();
    const gateway = await startTierWhenReady({
      entry: "gateway/main.js",
      args: ["--config", await webhookAuthConfig(port), "--http-port", "0"],
      env: {
        ...process.env,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: `webhook-auth-${randomBytes(6).toString("hex")}`,
        KUBECONFIG: join(directory, "kubeconfig"),
      },
    });

    try {
      const send = (authorization: string) =>
        fetch(`http://127.0.0.1:${port}/webhook`, {
          method: "POST",
          headers: { authorization, "content-type": "application/json" },
          body: JSON.stringify({ "0": { data: { ObjectName: "payments/stripe-key" } } }),
        });
      assert.equal((await send(`Bearer ${token}`)).status, 202);
      assert.equal((await send("Bearer wrong")).status, 401);
    } finally {
      assert.equal(await gateway.stop(), 0);
      await api.deleteNamespacedSecret({ name: "webhook-token", namespace: "payments" });
    }
  });

  it("tiers stop when the launcher dies", { timeout: 60_000 }, async () => {
    const configFile = join(directory, "orphans.yaml");
    const text = await readFile(fixturePath("config-default.yaml"), "utf8");
    const port = await freePort();
    await writeFile(configFile, text.replace("0.0.0.0", "127.0.0.1").replace("8000", String(port)));

    const env = {
      ...process.env,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: `orphans-${randomBytes(6).toString("hex")}`,
      KUBECONFIG: join(directory, "kubeconfig"),
    };
    const child = spawn(
      process.execPath,
      [entryPoint("launcher/start-all.js"), "--config", configFile, "--http-port", "0"],
      { env, stdio: ["ignore", "pipe", "inherit"] },
    );

    const pids: number[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      if (isReadyLine(line)) pids.push((JSON.parse(line) as { pid: number }).pid);
      if (pids.length === 2) break;
    }
    child.stdout.resume();
    child.kill("SIGKILL");
    await once(child, "exit");

    const isRunning = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 20_000;
    while (pids.some(isRunning) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const pid of pids)
      assert.equal(isRunning(pid), false, `tier ${pid} outlived its launcher`);
  });

  it("npm start runs both tiers until SIGTERM", { timeout: 60_000 }, async () => {
    const port = await freePort();
    const configFile = join(directory, "start-all.yaml");
    const text = await readFile(fixturePath("config-default.yaml"), "utf8");
    await writeFile(configFile, text.replace("0.0.0.0", "127.0.0.1").replace("8000", String(port)));

    const prefix = `start-all-${randomBytes(6).toString("hex")}`;
    const env = {
      ...process.env,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      KUBECONFIG: join(directory, "kubeconfig"),
    };
    const output: string[] = [];
    const sightings: PatchSighting[] = [];
    const unwatch = watchPatches(emulator, (sighting) => sightings.push(sighting));
    const child = spawn(
      process.execPath,
      [entryPoint("launcher/start-all.js"), "--config", configFile, "--http-port", "0"],
      { env, stdio: ["ignore", "pipe", "inherit"] },
    );

    try {
      let readyTiers = 0;
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => output.push(line));
      await new Promise<void>((resolve) => {
        lines.on("line", (line) => {
          if (isReadyLine(line)) readyTiers += 1;
          if (readyTiers === 2) resolve();
        });
      });
      await sendOverTcp(port, await readFile(fixturePath("pretty.json")));
      const deadline = Date.now() + 20_000;
      while (sightings.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(
        sightings.map((sighting) => `${sighting.namespace}/${sighting.name}`),
        ["payments/stripe"],
      );
    } finally {
      child.kill("SIGTERM");
      unwatch();
    }

    const [code] = await once(child, "exit");
    assert.equal(
      code,
      0,
      `npm start exited with ${code}; its last lines:\n${output.slice(-20).join("\n")}`,
    );
    const redis = new Redis(TEST_REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
});
