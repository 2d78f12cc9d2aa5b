import { TokenBucket } from "./token-bucket.js";

/** Limit that rejected a connection in `ConnectionLimits.acquire`, as the metric reason. */
export const ConnectionLimitReason = {
  Global: "max_connections_global",
  PerClient: "max_connections_per_client",
} as const;
export type ConnectionLimitReason =
  (typeof ConnectionLimitReason)[keyof typeof ConnectionLimitReason];

/** Connections from one client address. */
export interface ClientConnectionCount {
  readonly clientAddress: string;
  readonly count: number;
}

/**
 * Counts open connections across every source of a gateway, in total and per client IP
 * address, so one host cannot take every connection slot. One instance is shared by all
 * sources.
 */
export class ConnectionLimits {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(
    /** Maximum open connections across all sources. */
    readonly maxConnections: number,
    /** Maximum open connections from one client IP address. */
    readonly maxConnectionsPerClient: number,
  ) {}

  /** Open connections across all sources. */
  get openConnections(): number {
    return this.total;
  }

  /**
   * Reserves a slot for a connection from `remoteAddress`, or returns the limit that rejects
   * it. Every reserved slot must be given back with `release`.
   */
  acquire(remoteAddress: string | undefined): ConnectionLimitReason | undefined {
    const client = clientKey(remoteAddress);
    const fromClient = this.perClient.get(client) ?? 0;
    if (this.total >= this.maxConnections) return ConnectionLimitReason.Global;
    if (fromClient >= this.maxConnectionsPerClient) return ConnectionLimitReason.PerClient;

    this.total += 1;
    this.perClient.set(client, fromClient + 1);
    return undefined;
  }

  /** Gives back a slot that `acquire` reserved for `remoteAddress`. */
  release(remoteAddress: string | undefined): void {
    const client = clientKey(remoteAddress);
    const fromClient = this.perClient.get(client) ?? 0;
    if (fromClient <= 1) this.perClient.delete(client);
    else this.perClient.set(client, fromClient - 1);
    this.total = Math.max(0, this.total - 1);
  }

  /** Returns the open connections of one client address. */
  connectionsFrom(remoteAddress: string | undefined): ClientConnectionCount {
    const clientAddress = clientKey(remoteAddress);
    return { clientAddress, count: this.perClient.get(clientAddress) ?? 0 };
  }
}

/** Message-rate limit of one client. */
export interface MessageRateLimit {
  /** Identifiers per second allowed on average. */
  readonly messagesPerSecond: number;
  /** Identifiers a client may send at once above the average rate. */
  readonly burst: number;
}

/** Time between sweeps of refilled buckets, in ms. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * The message-rate budget of each client IP address, shared by all its connections to all
 * sources, so opening more connections does not buy a client more throughput. A bucket
 * that has refilled is dropped at the next sweep, since a new one would be the same, so
 * memory follows the clients active in the last few seconds.
 */
export class ClientRateLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly limit: MessageRateLimit) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  /** Returns the token bucket of the client at `remoteAddress`. */
  bucketFor(remoteAddress: string | undefined): TokenBucket {
    const client = clientKey(remoteAddress);
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.limit.messagesPerSecond, this.limit.burst);
      this.buckets.set(client, bucket);
    }
    return bucket;
  }

  /** Clients with a bucket that has not refilled yet. */
  get trackedClients(): number {
    return this.buckets.size;
  }

  /** Drops refilled buckets; runs every 10 s. */
  sweep(now: number = Date.now()): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.isFull(now)) this.buckets.delete(client);
    }
  }

  /** Stops the sweeps. */
  close(): void {
    clearInterval(this.sweeper);
  }
}

/** Returns the address a client is counted under: IPv4-mapped IPv6 counts as IPv4. */
export function clientKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  return mapped?.[1] ?? remoteAddress;
}

/** Open connections across all sources of a gateway when unset. */
export const DEFAULT_MAX_GATEWAY_CONNECTIONS = 4096;

/** Open connections from one client IP address across all sources when unset. */
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 32;

/** Documents per second that one connection may send on average when unset. */
export const DEFAULT_MAX_MESSAGES_PER_SECOND = 1000;

/** Documents one connection may send at once above the average rate when unset. */
export const DEFAULT_MESSAGE_BURST = 2000;
