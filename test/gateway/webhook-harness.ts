import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { Gateway, type GatewayOptions } from "../../gateway/gateway.js";
import {
  DEFAULT_IDENTIFIER_PATH,
  DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
  DEFAULT_MAX_MESSAGE_BYTES,
  SourceType,
  type ReloaderConfig,
  type WebhookSource,
} from "../../shared/config-schema.js";
import { createLogger } from "../../shared/logger.js";
import { createMetricsRegistry, GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import { ROTATION_QUEUE, type RotationEvent } from "../../shared/queue-contract.js";
import { TEST_REDIS_URL } from "./gateway-harness.js";

/** Returns a Webhook source on 127.0.0.1, port 0, with default settings. */
export function webhookSource(settings: Partial<WebhookSource> = {}): WebhookSource {
  return {
    type: SourceType.Webhook,
    index: 0,
    host: "127.0.0.1",
    port: 0,
    path: "/webhook",
    identifierPathOnPayload: DEFAULT_IDENTIFIER_PATH,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    maxIdentifiersPerMessage: DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
    ...settings,
  };
}

/** A started gateway with Webhook sources, its own prefix, and a queue to read jobs back. */
export interface WebhookHarness {
  readonly gateway: Gateway;
  readonly registry: Registry;
  readonly queue: Queue<RotationEvent>;
  /** Returns `http://127.0.0.1:PORT` plus the path of source `index` of the first Config. */
  url(index?: number, configName?: string): string;
  /** Returns `reloader_gateway_messages_total` for one result of the first Config's source 0. */
  messages(result: string): Promise<number>;
  cleanup(): Promise<void>;
}

export async function startWebhookGateway(
  configs: readonly ReloaderConfig[],
  options: Partial<GatewayOptions> = {},
): Promise<WebhookHarness> {
  const prefix = `webhook-test-${randomUUID()}`;
  const registry = createMetricsRegistry({ processMetrics: false });
  const gateway = new Gateway({
    configs,
    redisUrl: TEST_REDIS_URL,
    prefix,
    logger: createLogger({ name: "webhook-test", level: "silent" }),
    registry,
    ...options,
  });
  await gateway.start();

  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue<RotationEvent>(ROTATION_QUEUE, { connection, prefix });
  const firstConfig = configs[0]?.name ?? "";

  return {
    gateway,
    registry,
    queue,
    url: (index = 0, configName = firstConfig) => {
      const address = gateway
        .addresses()
        .find((item) => item.configName === configName && item.sourceIndex === index);
      assert.ok(address, `no address for ${configName} source ${index}`);
      return `http://127.0.0.1:${address.port}${address.path ?? ""}`;
    },
    messages: (result) =>
      readMetricValue(registry, GatewayMetricName.Messages, {
        config: firstConfig,
        source: "0",
        result,
      }),
    cleanup: async () => {
      await gateway.close();
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    },
  };
}

export function config(name: string, sources: WebhookSource[]): ReloaderConfig {
  return { name, sources, destinations: [] };
}

export async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}
