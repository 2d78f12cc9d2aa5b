import assert from "node:assert/strict";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { RotationEnqueuer } from "../../gateway/rotation-enqueuer.js";
import { TcpSource, type TcpSourceOptions } from "../../gateway/tcp-source.js";
import { createGatewayMetrics, createMetricsRegistry } from "../../shared/metrics.js";
import { capturingLogger, FakeQueue } from "./fake-queue.js";
import { connectTo, finish, testSource, write } from "./gateway-harness.js";

const sources: TcpSource[] = [];
after(async () => {
  await Promise.all(sources.map((source) => source.close()));
});

/** Starts a source on 127.0.0.1, port 0, whose enqueuer writes to `queue`. */
async function startSource(
  queue: FakeQueue,
  enqueuerOptions: { maxBatchSize?: number } = {},
  sourceOptions: Partial<TcpSourceOptions> = {},
) {
  const metrics = createGatewayMetrics(createMetricsRegistry({ processMetrics: false }));
  const { logger, lines } = capturingLogger();
  const enqueuer = new RotationEnqueuer({ queue, logger, metrics, ...enqueuerOptions });
  const source = new TcpSource({
    configName: "test",
    source: testSource(),
    enqueuer,
    metrics,
    logger,
    connectionCloseGraceMs: 200,
    ...sourceOptions,
  });
  sources.push(source);
  await source.start();
  return { source, enqueuer, port: source.address().port, lines };
}

function documents(count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) text += `{"0":{"data":{"ObjectName":"bulk/${i}"}}}\n`;
  return text;
}

describe("TcpSource with Redis behind", () => {
  test("reading goes on while Redis is behind", async () => {
    const queue = new FakeQueue();
    queue.hold();
    const { enqueuer, port } = await startSource(queue, { maxBatchSize: 10 });
    const total = 20_000;

    const socket = await connectTo(port);
    const started = Date.now();
    await write(socket, documents(total));
    const writeMs = Date.now() - started;
    const deadline = Date.now() + 5000;
    while (enqueuer.backlog < total && Date.now() < deadline) await sleep(20);

    assert.equal(enqueuer.backlog, total, "every document was read while Redis held the batch");
    assert.ok(writeMs < 2000, `writing took ${writeMs} ms`);

    queue.release();
    await finish(socket);
    await enqueuer.close();
    const expected = Array.from({ length: total }, (_, i) => `bulk/${i}`);
    assert.deepEqual(queue.identifiers, expected);
  });
});

describe("TcpSource connections", () => {
  test("connections beyond maxConnections are closed", async () => {
    const queue = new FakeQueue();
    const { source, enqueuer, port, lines } = await startSource(queue, {}, { maxConnections: 1 });
    const first = await connectTo(port);
    await sleep(20);
    const second = await connectTo(port);
    await new Promise<void>((resolve) => second.once("close", () => resolve()));

    assert.equal(source.connectionCount, 1);
    await write(first, documents(1));
    await finish(first);
    await enqueuer.close();
    assert.deepEqual(queue.identifiers, ["bulk/0"]);
    assert.ok(
      lines.some(
        (line) => line.msg === "connection refused: the source has reached maxConnections",
      ),
    );
  });

  test("rejection warnings are rate-limited per connection", async () => {
    const queue = new FakeQueue();
    const { port, lines } = await startSource(queue);
    const socket = await connectTo(port);
    await write(socket, "garbage\n".repeat(100));
    await finish(socket);

    const warnings = lines.filter((line) => line.msg === "document rejected");
    assert.equal(warnings.length, 10);
    const closed = lines.find((line) => line.msg === "connection closed");
    assert.equal(closed?.rejected, 100);
    assert.ok(warnings.every((line) => typeof line.connectionId === "string"));
  });

  test("close() ends idle connections", async () => {
    const queue = new FakeQueue();
    const { source, port } = await startSource(queue);
    const socket = await connectTo(port);
    const ended = new Promise<void>((resolve) => socket.once("end", () => resolve()));

    await sleep(20);
    await source.close();
    await ended;
    assert.equal(source.connectionCount, 0);
    assert.equal(source.isListening, false);
    socket.destroy();
  });

  test("close() destroys a sender that keeps its side open", async () => {
    const queue = new FakeQueue();
    const { source, port } = await startSource(queue);
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    await new Promise((resolve) => socket.once("connect", resolve));

    await sleep(20);
    const started = Date.now();
    await source.close();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150, `close() returned after ${elapsed} ms, before the grace period`);
    socket.destroy();
  });

  test("close() before start() resolves", async () => {
    const metrics = createGatewayMetrics(createMetricsRegistry({ processMetrics: false }));
    const { logger } = capturingLogger();
    const source = new TcpSource({
      configName: "test",
      source: testSource(),
      enqueuer: new RotationEnqueuer({ queue: new FakeQueue(), logger, metrics }),
      metrics,
      logger,
    });
    await source.close();
    assert.equal(source.isListening, false);
  });
});
