import type { BlockList, Socket } from "node:net";
import type { Logger } from "../shared/logger.js";
import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import type { GatewayMetrics } from "../shared/metrics.js";
import { isAddressAllowed } from "./cidr.js";
import { ConnectionLimitReason, type ConnectionLimits } from "./client-limits.js";

/** Reasons for which the gateway closes a connection before reading from it. */
export const AcceptRejection = {
  AddressNotAllowed: "address_not_allowed",
  MaxConnectionsGlobal: ConnectionLimitReason.Global,
  MaxConnectionsPerClient: ConnectionLimitReason.PerClient,
  TlsHandshakeFailed: "tls_handshake_failed",
} as const;
export type AcceptRejection = (typeof AcceptRejection)[keyof typeof AcceptRejection];

/** Warning logged once per window and reason when a connection is rejected. */
const REJECTION_MESSAGES: Record<AcceptRejection, string> = {
  address_not_allowed: "connection rejected: the client address is not in --allowed-cidrs",
  max_connections_global: "connection rejected: the gateway has reached --max-connections",
  max_connections_per_client:
    "connection rejected: the client has reached --max-connections-per-client",
  tls_handshake_failed: "connection rejected: TLS handshake failed",
};

/** Options of a `ConnectionGate`. */
export interface ConnectionGateOptions {
  /** Client networks allowed to connect; undefined allows every address. */
  readonly allowedAddresses?: BlockList;
  /**
   * Connection counts shared by every listener of the gateway, which enforce the global and
   * per-client limits; undefined turns both limits off.
   */
  readonly connectionLimits?: ConnectionLimits;
  readonly metrics: GatewayMetrics;
  /** Labels of the listener's connection metrics. */
  readonly labels: { readonly config: string; readonly source: string };
  readonly logger: Logger;
}

/**
 * The checks every new connection of one listener passes before the gateway reads from it:
 * the allowed networks, then the global and per-client connection limits. A rejection is
 * counted in `reloader_gateway_connections_closed_total` under its reason and logged at
 * warn at most once per 10 s per reason.
 */
export class ConnectionGate {
  private readonly rejected: Record<AcceptRejection, { inc(): void }>;
  private readonly warnings = new Map<AcceptRejection, LogRateLimiter>();

  constructor(private readonly options: ConnectionGateOptions) {
    this.rejected = Object.fromEntries(
      Object.values(AcceptRejection).map((reason) => [
        reason,
        options.metrics.connectionsClosed.labels({ ...options.labels, reason }),
      ]),
    ) as Record<AcceptRejection, { inc(): void }>;
  }

  /**
   * Returns true when `socket` may be read. Otherwise destroys it, counts and logs the
   * reason, and returns false. An admitted socket uses a connection slot until it closes.
   */
  admit(socket: Socket): boolean {
    const { remoteAddress } = socket;
    const allowed = this.options.allowedAddresses;
    if (allowed !== undefined && !isAddressAllowed(allowed, remoteAddress)) {
      this.reject(socket, AcceptRejection.AddressNotAllowed);
      return false;
    }

    const limits = this.options.connectionLimits;
    const limitReached = limits?.acquire(remoteAddress);
    if (limitReached !== undefined) {
      this.reject(socket, limitReached);
      return false;
    }
    if (limits !== undefined) socket.once("close", () => limits.release(remoteAddress));
    return true;
  }

  /**
   * Counts and logs a TLS handshake that failed or a client certificate that was refused;
   * `code` is the OpenSSL or verification error.
   */
  handshakeFailed(
    remoteAddress: string | undefined,
    code: string | undefined,
    detail?: string,
  ): void {
    this.rejected[AcceptRejection.TlsHandshakeFailed].inc();
    this.warn(AcceptRejection.TlsHandshakeFailed, { remoteAddress, code, error: detail });
  }

  private reject(socket: Socket, reason: AcceptRejection): void {
    this.rejected[reason].inc();
    const limits = this.options.connectionLimits;
    this.warn(reason, {
      remoteAddress: socket.remoteAddress,
      ...(reason === AcceptRejection.MaxConnectionsGlobal && {
        maxConnections: limits?.maxConnections,
      }),
      ...(reason === AcceptRejection.MaxConnectionsPerClient && {
        maxConnectionsPerClient: limits?.maxConnectionsPerClient,
      }),
    });
    socket.destroy();
  }

  private warn(reason: AcceptRejection, fields: Record<string, unknown>): void {
    let limiter = this.warnings.get(reason);
    if (limiter === undefined) {
      limiter = new LogRateLimiter(1, 10_000);
      this.warnings.set(reason, limiter);
    }
    const permit = limiter.take();
    if (!permit.allowed) return;
    this.options.logger.warn(
      { reason, ...fields, suppressedWarnings: permit.suppressed },
      REJECTION_MESSAGES[reason],
    );
  }
}
