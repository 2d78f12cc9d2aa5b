import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { RotationEnqueuer, type RotationEnqueuerOptions } from "../../gateway/rotation-enqueuer.js";
import {
  createGatewayMetrics,
  createMetricsRegistry,
  GatewayMetricName,
  readMetricValue,
} from "../../shared/metrics.js";
import { capturingLogger, FakeQueue, rotationEvent } from "./fake-queue.js";

function createEnqueuer(queue: FakeQueue, options: Partial<RotationEnqueuerOptions> = {}) {
  const registry = createMetricsRegistry({ processMetrics: false });
  const { logger, lines } = capturingLogger();
  const enqueuer = new RotationEnqueuer({
    queue,
    logger,
    metrics: createGatewayMetrics(registry),
    retryBaseDelayMs: 5,
    ...options,
  });
  return { enqueuer, registry, lines };
}

function names(count: number, prefix = "id"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}/${i}`);
}

describe("RotationEnqueuer batching", () => {
  test("full batches go out in order", async () => {
    const queue = new FakeQueue();
    const { enqueuer } = createEnqueuer(queue, { maxBatchSize: 500 });
    for (const name of names(1200)) enqueuer.enqueue(rotationEvent(name));
    await enqueuer.close();

    assert.deepEqual(
      queue.batches.map((batch) => batch.length),
      [500, 500, 200],
    );
    assert.deepEqual(queue.identifiers, names(1200));
  });

  test("partial batch waits for flushDelayMs", async () => {
    const queue = new FakeQueue();
    const { enqueuer } = createEnqueuer(queue, { flushDelayMs: 30, coalesceWindowMs: 0 });
    enqueuer.enqueue(rotationEvent("a"));
    enqueuer.enqueue(rotationEvent("b"));
    assert.equal(queue.batches.length, 0);

    await sleep(80);
    assert.deepEqual(queue.identifiers, ["a", "b"]);
    await enqueuer.close();
  });

  test("close() sends a partial batch at once", async () => {
    const queue = new FakeQueue();
    const { enqueuer } = createEnqueuer(queue, { flushDelayMs: 60_000 });
    enqueuer.enqueue(rotationEvent("a"));
    await enqueuer.close();
    assert.deepEqual(queue.identifiers, ["a"]);
  });

  test("enqueue after close() throws", async () => {
    const { enqueuer } = createEnqueuer(new FakeQueue());
    await enqueuer.close();
    assert.throws(() => enqueuer.enqueue(rotationEvent("late")), /after the enqueuer was closed/);
  });

  test("metrics count identifiers per source", async () => {
    const queue = new FakeQueue();
    const { enqueuer, registry } = createEnqueuer(queue);
    enqueuer.enqueue(rotationEvent("a", 0));
    enqueuer.enqueue(rotationEvent("b", 1));
    enqueuer.enqueue(rotationEvent("c", 1));
    await enqueuer.close();

    const read = (source: string) =>
      readMetricValue(registry, GatewayMetricName.IdentifiersEnqueued, { config: "test", source });
    assert.equal(await read("0"), 1);
    assert.equal(await read("1"), 2);
    const text = await registry.getSingleMetricAsString(GatewayMetricName.EnqueueLatency);
    assert.match(text, new RegExp(`^${GatewayMetricName.EnqueueLatency}_count 3$`, "m"));
  });
});

describe("RotationEnqueuer failures", () => {
  test("failed batches are retried until stored", async () => {
    const queue = new FakeQueue();
    queue.failuresLeft = 2;
    const { enqueuer, lines } = createEnqueuer(queue);
    enqueuer.enqueue(rotationEvent("a"));
    enqueuer.enqueue(rotationEvent("b"));
    await enqueuer.close();

    assert.deepEqual(queue.identifiers, ["a", "b"]);
    const retries = lines.filter(
      (line) => line.msg === "adding rotation jobs to Redis failed; retrying",
    );
    assert.deepEqual(
      retries.map((line) => [line.level, line.attempt, line.identifiers]),
      [
        [40, 1, 2],
        [40, 2, 2],
      ],
    );
  });

  test("close() gives up after closeTimeoutMs", async () => {
    const queue = new FakeQueue();
    queue.failuresLeft = Number.POSITIVE_INFINITY;
    const { enqueuer, lines } = createEnqueuer(queue, { closeTimeoutMs: 100 });
    enqueuer.enqueue(rotationEvent("a"));

    const started = Date.now();
    await assert.rejects(enqueuer.close(), /^Error: 1 identifier\(s\) were not stored in Redis/);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 100, `close() returned after ${elapsed} ms`);
    assert.ok(elapsed < 2000, `close() took ${elapsed} ms`);

    const lost = lines.filter((line) => line.level === 50);
    assert.equal(lost.length, 1);
    assert.equal(lost[0]?.lostIdentifiers, 1);
    assert.deepEqual(lost[0]?.identifiers, ["a"]);
  });

  test("close() stops waiting for a hung Redis", async () => {
    const queue = new FakeQueue();
    queue.hold();
    const { enqueuer, lines } = createEnqueuer(queue, { closeTimeoutMs: 100 });
    enqueuer.enqueue(rotationEvent("a"));
    enqueuer.enqueue(rotationEvent("b"));

    const started = Date.now();
    await assert.rejects(enqueuer.close(), /2 identifier\(s\) were not stored in Redis/);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `close() took ${elapsed} ms`);

    const lost = lines.filter((line) => line.level === 50);
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0]?.identifiers, ["a", "b"]);
    assert.match(String(lost[0]?.msg), /did not answer before the shutdown deadline/);
    queue.release();
  });
});

describe("RotationEnqueuer coalescing", () => {
  test("a burst becomes one job", async () => {
    const queue = new FakeQueue();
    const { enqueuer, registry } = createEnqueuer(queue, { coalesceWindowMs: 50 });
    for (let i = 0; i < 5; i++) enqueuer.enqueue(rotationEvent("app/db-password"));
    enqueuer.enqueue(rotationEvent("app/other"));
    assert.equal(queue.batches.length, 0, "nothing is sent before the window ends");

    await sleep(120);
    assert.deepEqual(queue.identifiers, ["app/db-password", "app/other"]);
    const coalesced = await readMetricValue(registry, GatewayMetricName.IdentifiersCoalesced, {
      config: "test",
      source: "0",
    });
    assert.equal(coalesced, 4);
    await enqueuer.close();
  });

  test("a trigger after sending makes a new job", async () => {
    const queue = new FakeQueue();
    const { enqueuer } = createEnqueuer(queue, { coalesceWindowMs: 20 });
    enqueuer.enqueue(rotationEvent("app/db-password"));
    await sleep(60);
    assert.deepEqual(queue.identifiers, ["app/db-password"]);

    enqueuer.enqueue(rotationEvent("app/db-password"));
    await sleep(60);
    assert.deepEqual(queue.identifiers, ["app/db-password", "app/db-password"]);
    await enqueuer.close();
  });

  test("a trigger during a slow send makes a new job", async () => {
    const queue = new FakeQueue();
    queue.hold();
    const { enqueuer } = createEnqueuer(queue, { coalesceWindowMs: 10 });
    enqueuer.enqueue(rotationEvent("app/db-password"));
    await sleep(40);
    assert.equal(enqueuer.backlog, 1, "the first job is in flight");

    enqueuer.enqueue(rotationEvent("app/db-password"));
    queue.release();
    await enqueuer.close();
    assert.deepEqual(queue.identifiers, ["app/db-password", "app/db-password"]);
  });

  test("Configs are coalesced apart", async () => {
    const queue = new FakeQueue();
    const { enqueuer } = createEnqueuer(queue, { coalesceWindowMs: 60_000 });
    enqueuer.enqueue(rotationEvent("app/db-password"));
    enqueuer.enqueue({ ...rotationEvent("app/db-password"), configName: "other" });
    await enqueuer.close();
    assert.equal(queue.identifiers.length, 2);
  });
});

describe("RotationEnqueuer bound", () => {
  test("identifiers past the bound are shed", async () => {
    const queue = new FakeQueue();
    const { enqueuer, registry, lines } = createEnqueuer(queue, {
      coalesceWindowMs: 60_000,
      maxPendingIdentifiers: 3,
    });
    for (const name of names(5)) enqueuer.enqueue(rotationEvent(name));
    enqueuer.enqueue(rotationEvent("id/0"));

    assert.equal(enqueuer.full, true);
    const shed = await readMetricValue(registry, GatewayMetricName.IdentifiersShed, {
      config: "test",
      source: "0",
    });
    assert.equal(shed, 2);
    const pending = await readMetricValue(registry, GatewayMetricName.PendingIdentifiers, {});
    assert.equal(pending, 3);
    assert.equal(lines.filter((line) => line.level === 40).length, 1, "one rate-limited warning");

    await enqueuer.close();
    assert.deepEqual(queue.identifiers, names(3));
    assert.equal(enqueuer.full, false);
  });

  test("identifiers wait while Redis fails", async () => {
    const queue = new FakeQueue();
    queue.failuresLeft = 5;
    const { enqueuer } = createEnqueuer(queue, { coalesceWindowMs: 0 });
    for (const name of names(1000)) enqueuer.enqueue(rotationEvent(name));
    await enqueuer.close();
    assert.deepEqual(queue.identifiers, names(1000));
  });
});
