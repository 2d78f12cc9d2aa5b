import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { freePort } from "../../launcher/private-redis.js";
import { startTierWhenReady } from "../../launcher/tier-process.js";
import { GatewayMetricName } from "../../shared/metrics.js";
import { ROTATION_QUEUE } from "../../shared/queue-contract.js";
import { fixturePath } from "../support/fixtures.js";
import { metricValue, sendOverTcp, TEST_REDIS_URL } from "../support/pipeline.js";

describe("gateway shutdown", () => {
  it("SIGTERM stores every pending identifier", { timeout: 60_000 }, async () => {
    const directory = await mkdtemp(join(tmpdir(), "gateway-shutdown-"));
    const port = await freePort();
    const httpPort = await freePort();
    const configFile = join(directory, "config.yaml");
    const text = await readFile(fixturePath("config-default.yaml"), "utf8");
    await writeFile(configFile, text.replace("0.0.0.0", "127.0.0.1").replace("8000", String(port)));

    const prefix = `shutdown-${randomBytes(6).toString("hex")}`;
    // A coalescing window longer than the test keeps every identifier pending until SIGTERM.
    const env = { ...process.env, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
    const gateway = await startTierWhenReady({
      entry: "gateway/main.js",
      args: [
        "--config",
        configFile,
        "--http-port",
        String(httpPort),
        "--http-host",
        "127.0.0.1",
        "--coalesce-window-ms",
        "600000",
      ],
      env,
    });

    const redis = new Redis(TEST_REDIS_URL);
    const queue = new Queue(ROTATION_QUEUE, { connection: redis, prefix });
    try {
      let documents = "";
      for (let index = 0; index < 500; index++) {
        documents += `{"0":{"data":{"ObjectName":"shutdown/${index}"}}}\n`;
      }
      await sendOverTcp(port, Buffer.from(documents));
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      assert.equal(metricValue(metrics, GatewayMetricName.PendingIdentifiers, {}), 500);
      assert.equal(await queue.count(), 0, "nothing is stored before the window ends");

      assert.equal(await gateway.stop(), 0);
      assert.equal(await queue.count(), 500);
    } finally {
      await gateway.stop();
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
