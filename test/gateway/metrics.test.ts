import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createGatewayMetrics,
  createMetricsRegistry,
  GatewayMetricName,
  readMetricValue,
} from "../../shared/metrics.js";

test("gateway metrics registered once per registry", () => {
  const registry = createMetricsRegistry({ processMetrics: false });
  const first = createGatewayMetrics(registry);
  const second = createGatewayMetrics(registry);
  assert.equal(second.messages, first.messages);
  assert.equal(second.enqueueLatency, first.enqueueLatency);
});

test("registries do not share series", async () => {
  const one = createMetricsRegistry({ processMetrics: false });
  const two = createMetricsRegistry({ processMetrics: false });
  createGatewayMetrics(one).messages.inc({ config: "a", source: "0", result: "accepted" });
  createGatewayMetrics(two);

  const labels = { config: "a", source: "0", result: "accepted" };
  assert.equal(await readMetricValue(one, GatewayMetricName.Messages, labels), 1);
  assert.equal(await readMetricValue(two, GatewayMetricName.Messages, labels), 0);
});

test("process metrics are on by default", async () => {
  const registry = createMetricsRegistry();
  assert.match(await registry.metrics(), /process_cpu_user_seconds_total/);
});

test("readMetricValue names an unknown metric", async () => {
  const registry = createMetricsRegistry({ processMetrics: false });
  await assert.rejects(
    readMetricValue(registry, "nope_total", {}),
    /metric nope_total is not registered/,
  );
});
