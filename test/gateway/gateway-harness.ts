import { randomUUID } from "node:crypto";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { Registry } from "prom-client";
import { Gateway, type GatewayOptions } from "../../gateway/gateway.js";
import {
  DEFAULT_IDENTIFIER_PATH,
  DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_VAULT_OPERATIONS,
  SourceType,
  type HashicorpVaultSource,
  type NotificationSource,
  type ReloaderConfig,
  type TcpSocketSource,
} from "../../shared/config-schema.js";
import { createLogger, type Logger } from "../../shared/logger.js";
import { createMetricsRegistry, GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import { ROTATION_QUEUE, type RotationEvent } from "../../shared/queue-contract.js";

/** The Redis every gateway test uses; only loopback is allowed. */
export const TEST_REDIS_URL = "redis://127.0.0.1:6379";

/** Name of the Config that `startTestGateway` listens for. */
export const TEST_CONFIG_NAME = "tcp-test";

/** A started gateway on a random port with its own BullMQ prefix and metrics registry. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly port: number;
  readonly prefix: string;
  readonly registry: Registry;
  /** Queue on a separate connection, for reading jobs back. */
  readonly queue: Queue<RotationEvent>;
  /** Returns `reloader_gateway_messages_total` for one result of source 0. */
  messages(result: string): Promise<number>;
  /** Returns `reloader_gateway_identifiers_enqueued_total` of source 0. */
  enqueued(): Promise<number>;
  /** Returns the stored rotation jobs, oldest first. */
  jobs(): Promise<RotationEvent[]>;
  /** Closes the gateway (if the test did not), removes every key of the prefix and disconnects. */
  cleanup(): Promise<void>;
}

/** Settings of `startTestGateway`: source fields plus gateway options. */
export interface TestGatewaySettings {
  readonly identifierPath?: string;
  readonly maxMessageBytes?: number;
  /** Source to listen on in place of `testSource(settings)`, such as `testVaultSource()`. */
  readonly source?: NotificationSource;
  readonly gateway?: Partial<Omit<GatewayOptions, "configs" | "logger" | "registry">>;
  /** Logger of the gateway; silent when absent. */
  readonly logger?: Logger;
}

/** Returns a TCPSocket source on 127.0.0.1 with a free port. */
export function testSource(settings: TestGatewaySettings = {}, index = 0): TcpSocketSource {
  return {
    type: SourceType.TCPSocket,
    index,
    host: "127.0.0.1",
    port: 0,
    identifierPathOnPayload: settings.identifierPath ?? DEFAULT_IDENTIFIER_PATH,
    maxMessageBytes: settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxIdentifiersPerMessage: DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
  };
}

/** Returns a HashicorpVault source on 127.0.0.1 with a free port and default settings. */
export function testVaultSource(
  settings: Partial<Pick<HashicorpVaultSource, "prefix" | "operations" | "includeNamespace">> = {},
): HashicorpVaultSource {
  return {
    type: SourceType.HashicorpVault,
    index: 0,
    host: "127.0.0.1",
    port: 0,
    operations: DEFAULT_VAULT_OPERATIONS,
    includeNamespace: false,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    ...settings,
  };
}

/** Starts a gateway with one TCPSocket source on 127.0.0.1, port 0, and a random prefix. */
export async function startTestGateway(settings: TestGatewaySettings = {}): Promise<TestGateway> {
  const prefix = randomPrefix();
  const registry = createMetricsRegistry({ processMetrics: false });
  const config: ReloaderConfig = {
    name: TEST_CONFIG_NAME,
    sources: [settings.source ?? testSource(settings)],
    destinations: [],
  };
  const gateway = new Gateway({
    configs: [config],
    redisUrl: TEST_REDIS_URL,
    prefix,
    logger: settings.logger ?? createLogger({ name: "gateway-test", level: "silent" }),
    registry,
    connectionCloseGraceMs: 500,
    ...settings.gateway,
  });
  await gateway.start();

  const [address] = gateway.addresses();
  if (address === undefined) throw new Error("the test gateway has no source address");
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue<RotationEvent>(ROTATION_QUEUE, { connection, prefix });
  const labels = { config: TEST_CONFIG_NAME, source: "0" };

  return {
    gateway,
    port: address.port,
    prefix,
    registry,
    queue,
    messages: (result) =>
      readMetricValue(registry, GatewayMetricName.Messages, { ...labels, result }),
    enqueued: () => readMetricValue(registry, GatewayMetricName.IdentifiersEnqueued, labels),
    jobs: async () => {
      const jobs = await queue.getJobs(["waiting"], 0, -1, true);
      jobs.sort((a, b) => Number(a.id) - Number(b.id));
      return jobs.map((job) => job.data);
    },
    cleanup: async () => {
      await gateway.close();
      await queue.obliterate({ force: true });
      await queue.close();
      const leftover = await connection.keys(`${prefix}:*`);
      if (leftover.length > 0) await connection.del(...leftover);
      await connection.quit();
    },
  };
}

/** Returns a BullMQ prefix that no other test uses. */
export function randomPrefix(): string {
  return `test-gateway-${randomUUID()}`;
}

/** Deletes every Redis key under `prefix`, for tests that build a gateway by hand. */
export async function deleteKeys(prefix: string): Promise<void> {
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  try {
    const keys = await connection.keys(`${prefix}:*`);
    if (keys.length > 0) await connection.del(...keys);
  } finally {
    await connection.quit();
  }
}

/** Opens a TCP connection to the gateway on 127.0.0.1. */
export async function connectTo(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Writes `data`, waiting until the kernel has taken it. */
export function write(socket: Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Half-closes the socket and waits until the gateway has closed its side too. */
export async function finish(socket: Socket): Promise<void> {
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.end();
  await closed;
}

/** Sends `data` on a new connection and waits until the gateway has read all of it. */
export async function send(port: number, data: Buffer | string): Promise<void> {
  const socket = await connectTo(port);
  await write(socket, data);
  await finish(socket);
}

/**
 * Polls `read` until `matches` accepts its value or `timeoutMs` passes. Returns the last
 * value either way, so the caller's assert shows what was there.
 */
export async function waitForValue<T>(
  read: () => Promise<T>,
  matches: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!matches(value) && Date.now() < deadline) {
    await sleep(20);
    value = await read();
  }
  return value;
}

/** Returns the identifiers of the stored jobs once `count` are there (or the timeout passes). */
export async function identifiersWhenStored(
  harness: TestGateway,
  count: number,
): Promise<string[]> {
  const jobs = await waitForValue(harness.jobs, (stored) => stored.length >= count);
  return jobs.map((job) => job.identifier);
}
