import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
} from "prom-client";

/** Options of `createMetricsRegistry`. */
export interface MetricsRegistryOptions {
  /** Whether to add prom-client's process metrics (CPU, memory, event loop). Default true. */
  readonly processMetrics?: boolean;
}

/**
 * Creates the Prometheus registry of one process. Each process and each test gets its own
 * registry rather than prom-client's global one, so the metrics of separate instances stay
 * apart.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Outcome of one document read by the gateway; the values are the `result` label. */
export const MessageResult = {
  Accepted: "accepted",
  /** A valid document that carries no rotation, such as a Vault audit entry of a read. */
  Ignored: "ignored",
  InvalidJson: "invalid_json",
  MissingIdentifier: "missing_identifier",
  NotString: "not_string",
  Oversize: "oversize",
  RejectedIdentifier: "rejected_identifier",
  /** A document whose identifier path selects more values than `maxIdentifiersPerMessage`. */
  TooManyIdentifiers: "too_many_identifiers",
  /** A Webhook request without the configured credentials; its response is 401. */
  Unauthorized: "unauthorized",
  /** A valid Webhook request whose jobs Redis did not store in time; its response is 503. */
  Unavailable: "unavailable",
  /** A Webhook request above its connection's message rate; its response is 429. */
  RateLimited: "rate_limited",
} as const;
export type MessageResult = (typeof MessageResult)[keyof typeof MessageResult];

/** Labels that name one notification source: the Config name and the source's index. */
export type SourceLabels = "config" | "source";

/** The gateway's metrics, registered in one registry. */
export interface GatewayMetrics {
  /** `reloader_gateway_messages_total{config, source, result}`: documents and rejected lines. */
  readonly messages: Counter<SourceLabels | "result">;
  /** `reloader_gateway_identifiers_enqueued_total{config, source}`: jobs stored in Redis. */
  readonly identifiersEnqueued: Counter<SourceLabels>;
  /** `reloader_gateway_open_connections{config, source}`: TCP connections open now. */
  readonly openConnections: Gauge<SourceLabels>;
  /** `reloader_gateway_enqueue_latency_seconds`: from reading a document to its job in Redis. */
  readonly enqueueLatency: Histogram<never>;
  /** `reloader_gateway_identifiers_coalesced_total{config, source}`: triggers joined to a waiting one. */
  readonly identifiersCoalesced: Counter<SourceLabels>;
  /** `reloader_gateway_identifiers_shed_total{config, source}`: identifiers dropped past the bound. */
  readonly identifiersShed: Counter<SourceLabels>;
  /** `reloader_gateway_pending_identifiers`: identifiers waiting in memory for Redis. */
  readonly pendingIdentifiers: Gauge<never>;
  /** `reloader_gateway_rejected_identifiers_total{config, source, reason}`: identifiers refused. */
  readonly rejectedIdentifiers: Counter<SourceLabels | "reason">;
  /** `reloader_gateway_connections_closed_total{config, source, reason}`: connections the gateway ended. */
  readonly connectionsClosed: Counter<SourceLabels | "reason">;
  /** `reloader_gateway_connections_throttled_total{config, source}`: reading paused by the message-rate limit. */
  readonly connectionsThrottled: Counter<SourceLabels>;
}

/** Metric names, for tests and dashboards. */
export const GatewayMetricName = {
  Messages: "reloader_gateway_messages_total",
  IdentifiersEnqueued: "reloader_gateway_identifiers_enqueued_total",
  OpenConnections: "reloader_gateway_open_connections",
  EnqueueLatency: "reloader_gateway_enqueue_latency_seconds",
  RejectedIdentifiers: "reloader_gateway_rejected_identifiers_total",
  IdentifiersCoalesced: "reloader_gateway_identifiers_coalesced_total",
  IdentifiersShed: "reloader_gateway_identifiers_shed_total",
  PendingIdentifiers: "reloader_gateway_pending_identifiers",
  ConnectionsClosed: "reloader_gateway_connections_closed_total",
  ConnectionsThrottled: "reloader_gateway_connections_throttled_total",
} as const;

/**
 * Registers the gateway's metrics in `registry`, or returns the ones already registered
 * there, so several gateways in one process can share a registry.
 */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    messages: registered(registry, GatewayMetricName.Messages, () => {
      return new Counter({
        name: GatewayMetricName.Messages,
        help: "Documents and rejected lines read from notification sources, by result.",
        labelNames: ["config", "source", "result"],
        registers: [registry],
      });
    }),
    identifiersEnqueued: registered(registry, GatewayMetricName.IdentifiersEnqueued, () => {
      return new Counter({
        name: GatewayMetricName.IdentifiersEnqueued,
        help: "Secret identifiers stored as rotation jobs in Redis.",
        labelNames: ["config", "source"],
        registers: [registry],
      });
    }),
    openConnections: registered(registry, GatewayMetricName.OpenConnections, () => {
      return new Gauge({
        name: GatewayMetricName.OpenConnections,
        help: "TCP connections open on notification sources.",
        labelNames: ["config", "source"],
        registers: [registry],
      });
    }),
    enqueueLatency: registered(registry, GatewayMetricName.EnqueueLatency, () => {
      return new Histogram({
        name: GatewayMetricName.EnqueueLatency,
        help: "Seconds from reading a document to storing its rotation job in Redis.",
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      });
    }),
    identifiersCoalesced: registered(registry, GatewayMetricName.IdentifiersCoalesced, () => {
      return new Counter({
        name: GatewayMetricName.IdentifiersCoalesced,
        help: "Triggers of an identifier that was already waiting, joined into its job.",
        labelNames: ["config", "source"],
        registers: [registry],
      });
    }),
    identifiersShed: registered(registry, GatewayMetricName.IdentifiersShed, () => {
      return new Counter({
        name: GatewayMetricName.IdentifiersShed,
        help: "Identifiers dropped because the bound of identifiers waiting for Redis was reached.",
        labelNames: ["config", "source"],
        registers: [registry],
      });
    }),
    pendingIdentifiers: registered(registry, GatewayMetricName.PendingIdentifiers, () => {
      return new Gauge({
        name: GatewayMetricName.PendingIdentifiers,
        help: "Identifiers waiting in memory to be stored in Redis, including the batch being sent.",
        registers: [registry],
      });
    }),
    rejectedIdentifiers: registered(registry, GatewayMetricName.RejectedIdentifiers, () => {
      return new Counter({
        name: GatewayMetricName.RejectedIdentifiers,
        help: "Identifiers rejected before queueing: empty, too_long, control_character, invalid_character or vault_hmac.",
        labelNames: ["config", "source", "reason"],
        registers: [registry],
      });
    }),
    connectionsClosed: registered(registry, GatewayMetricName.ConnectionsClosed, () => {
      return new Counter({
        name: GatewayMetricName.ConnectionsClosed,
        help:
          "Connections the gateway closed itself, by reason: max_connections (per source), " +
          "max_connections_global, max_connections_per_client, address_not_allowed, " +
          "tls_handshake_failed, idle_timeout, and for Webhook sources request_timeout, " +
          "malformed_request, header_overflow.",
        labelNames: ["config", "source", "reason"],
        registers: [registry],
      });
    }),
    connectionsThrottled: registered(registry, GatewayMetricName.ConnectionsThrottled, () => {
      return new Counter({
        name: GatewayMetricName.ConnectionsThrottled,
        help: "Times a connection's reading was paused because it sent documents above --max-messages-per-second.",
        labelNames: ["config", "source"],
        registers: [registry],
      });
    }),
  };
}

function registered<T extends Metric>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/**
 * Returns the current value of a counter or gauge for exactly these labels, or 0 when that
 * series has not been recorded.
 */
export async function readMetricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered in this registry`);

  const data = await metric.get();
  const expectedLabels = Object.entries(labels);
  const series = data.values.find((value) => {
    const keys = Object.keys(value.labels);
    return (
      keys.length === expectedLabels.length &&
      expectedLabels.every(([key, expected]) => String(value.labels[key]) === expected)
    );
  });
  return series?.value ?? 0;
}
