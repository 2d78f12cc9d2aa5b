import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type { NotificationSource } from "../shared/config-schema.js";
import type { Logger } from "../shared/logger.js";
import { MessageResult } from "../shared/metrics.js";
import type { IdentifierExtraction } from "./document-identifiers.js";
import type { IdentifierRejection } from "./identifier-rules.js";
import type { Frame } from "./json-framer.js";
import type { DocumentFramer } from "./line-prefix.js";
import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import type { RotationEnqueuer } from "./rotation-enqueuer.js";
import type { TokenBucket } from "./token-bucket.js";
import type { ClientRateLimits } from "./client-limits.js";

/** Idle time before the first TCP keepalive probe, in ms. */
const KEEPALIVE_INITIAL_DELAY_MS = 60_000;

/**
 * Fraction of a second of documents that a throttled connection waits to refill before it
 * reads again, so a sender above the rate is paused about ten times a second at most.
 */
const THROTTLE_REFILL_SECONDS = 0.1;

/** Rejection warnings logged per source in each window; the rest are counted. */
const WARNINGS_PER_WINDOW = 10;
const LIFECYCLE_LINES_PER_WINDOW = 100;
const WARNING_WINDOW_MS = 10_000;

/**
 * Identifiers read from one document, or why it has none. A document is `ignored` when it
 * is valid but carries no rotation, such as a Vault audit entry of a read.
 */
export type SourceExtraction =
  IdentifierExtraction | { readonly kind: "ignored"; readonly reason: string };

/** Settings, metrics and logger shared by every connection of one TCP source. */
export interface SourceContext {
  readonly configName: string;
  readonly source: NotificationSource;
  /** Reads the identifiers of one parsed document by the rules of the source type. */
  readonly extract: (document: unknown) => SourceExtraction;
  /** Creates the framer of one connection. */
  readonly createFramer: () => DocumentFramer;
  /** Settings that explain a rejection in logs, such as the identifier path. */
  readonly extractionSettings: Readonly<Record<string, unknown>>;
  readonly enqueuer: RotationEnqueuer;
  /** `reloader_gateway_messages_total` bound to this source, by result. */
  readonly messages: Record<MessageResult, { inc(): void }>;
  /** `reloader_gateway_open_connections` bound to this source. */
  readonly openConnections: { inc(): void; dec(): void };
  /** `reloader_gateway_rejected_identifiers_total` bound to this source, by reason. */
  readonly rejectedIdentifiers: Record<IdentifierRejection, { inc(): void }>;
  /** `reloader_gateway_connections_closed_total{reason="idle_timeout"}` of this source. */
  readonly idleTimeouts: { inc(): void };
  /** Time a connection may stay silent before the gateway closes it, in ms; 0 turns it off. */
  readonly idleTimeoutMs: number;
  /** Identifier budgets of the clients; undefined turns the limit off. */
  readonly rateLimits: ClientRateLimits | undefined;
  /** `reloader_gateway_connections_throttled_total` bound to this source. */
  readonly throttles: { inc(): void };
  /**
   * Limits shared by the source's connections, so many short connections cannot flood
   * the log: `rejections` for rejected documents (warn), `lifecycle` for opened and closed
   * connections (info).
   */
  readonly logLimits: SourceLogLimits;
  readonly logger: Logger;
}

/** Log rate limits of one source; see `createSourceLogLimits`. */
export interface SourceLogLimits {
  readonly rejections: LogRateLimiter;
  readonly lifecycle: LogRateLimiter;
}

/**
 * Returns a source's log limits: 10 rejection warnings and 100 connection lines per 10 s,
 * each line after a gap carrying the number suppressed.
 */
export function createSourceLogLimits(): SourceLogLimits {
  return {
    rejections: new LogRateLimiter(WARNINGS_PER_WINDOW, WARNING_WINDOW_MS),
    lifecycle: new LogRateLimiter(LIFECYCLE_LINES_PER_WINDOW, WARNING_WINDOW_MS),
  };
}

/** Documents and identifiers of one connection, logged when it closes. */
interface ConnectionTotals {
  documents: number;
  identifiers: number;
  rejected: number;
}

/**
 * One sender's TCP connection: frames its bytes into JSON documents, reads the identifier of
 * each and hands it to the enqueuer. Reading never waits for Redis: the enqueuer keeps
 * identifiers in memory, because a slow reader stalls senders such as Vault.
 */
export class TcpConnection {
  readonly id = randomUUID();
  /** Resolves when the socket has closed and its last bytes are processed. */
  readonly closed: Promise<void>;

  private readonly logger: Logger;
  private readonly framer: DocumentFramer;
  private readonly totals: ConnectionTotals = { documents: 0, identifiers: 0, rejected: 0 };
  private paused = false;
  private closing = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly rateLimit: TokenBucket | undefined;
  /** Documents read but held back by the message-rate limit, oldest first. */
  private throttledFrames: Array<{ frame: Frame; receivedAt: number }> = [];
  private throttleTimer: NodeJS.Timeout | undefined;
  /** Tokens a throttled connection waits for before it handles documents again. */
  private readonly throttleRefill: number;

  constructor(
    private readonly socket: Socket,
    private readonly context: SourceContext,
  ) {
    const remoteAddress = `${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`;
    this.logger = context.logger.child({ connectionId: this.id, remoteAddress });
    this.framer = context.createFramer();
    const rateLimits = context.rateLimits;
    this.rateLimit = rateLimits?.bucketFor(socket.remoteAddress);
    this.throttleRefill = Math.max(
      1,
      (rateLimits?.limit.messagesPerSecond ?? 0) * THROTTLE_REFILL_SECONDS,
    );

    context.openConnections.inc();
    this.logger.debug("connection opened");

    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => this.onError(error));
    // Keepalive finds peers that vanished without a FIN, such as a crashed host.
    socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    if (context.idleTimeoutMs > 0) {
      socket.setTimeout(context.idleTimeoutMs, () => this.onIdle());
    }
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.onClose();
        resolve();
      });
    });
  }

  /**
   * Closes the connection for shutdown. Sends FIN and keeps reading what the sender had
   * already sent until it closes its side, or destroys the socket after `graceMs`.
   */
  end(graceMs: number): Promise<void> {
    // A paused socket resumes, so what the sender already wrote into the kernel buffers is
    // read and handed on instead of dropped with the socket.
    this.closing = true;
    this.releaseThrottledFrames();
    this.resumeReading();
    if (!this.socket.destroyed) {
      this.socket.end();
      this.graceTimer ??= setTimeout(() => this.socket.destroy(), graceMs);
    }
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    const receivedAt = Date.now();
    const frames = this.framer.push(chunk);
    if (this.rateLimit === undefined) {
      for (const frame of frames) this.handleFrame(frame, receivedAt);
      return;
    }
    for (const frame of frames) this.throttledFrames.push({ frame, receivedAt });
    if (this.throttleTimer === undefined) this.processThrottledFrames(this.rateLimit);
  }

  /**
   * Handles held documents while the token bucket has tokens. Documents above the rate are
   * never dropped: they wait in `throttledFrames`, at most one read's worth because reading
   * pauses meanwhile, and TCP flow control slows the sender down.
   */
  private processThrottledFrames(rateLimit: TokenBucket): void {
    let handled = 0;
    while (handled < this.throttledFrames.length && (this.closing || rateLimit.take())) {
      const next = this.throttledFrames[handled] as { frame: Frame; receivedAt: number };
      handled += 1;
      // A document costs a token per identifier, so one document that names many secrets
      // cannot fill the pending identifiers that other senders share.
      const identifiers = this.handleFrame(next.frame, next.receivedAt);
      if (identifiers > 1 && !this.closing) rateLimit.charge(identifiers - 1);
    }
    this.throttledFrames.splice(0, handled);
    if (this.throttledFrames.length === 0) return;

    const waitMs = Math.max(1, rateLimit.msUntil(this.throttleRefill));
    this.context.throttles.inc();
    this.pauseReading();
    this.logger.debug(
      { throttledDocuments: this.throttledFrames.length, waitMs },
      "reading paused: message rate above the limit",
    );
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      this.processThrottledFrames(rateLimit);
      if (this.throttleTimer === undefined) this.resumeReading();
    }, waitMs);
  }

  /** Handles every held document at once, for a connection that closes. */
  private releaseThrottledFrames(): void {
    clearTimeout(this.throttleTimer);
    this.throttleTimer = undefined;
    const throttled = this.throttledFrames;
    this.throttledFrames = [];
    for (const { frame, receivedAt } of throttled) this.handleFrame(frame, receivedAt);
  }

  /** Reads one document's identifiers and hands them to the enqueuer; returns how many. */
  private handleFrame(frame: Frame, receivedAt: number): number {
    this.totals.documents += 1;
    if (frame.kind === "rejected") {
      this.reject(frame.reason, { offset: frame.offset, detail: frame.detail });
      return 0;
    }

    const extraction = this.context.extract(frame.value);
    if (extraction.kind !== "ignored") {
      for (const reason of extraction.rejectedIdentifiers) {
        this.context.rejectedIdentifiers[reason].inc();
      }
    }
    if (extraction.kind === "ignored") {
      this.context.messages[MessageResult.Ignored].inc();
      this.logger.debug({ offset: frame.offset, reason: extraction.reason }, "document ignored");
      return 0;
    }
    if (extraction.kind === "rejected") {
      this.reject(extraction.reason, {
        offset: frame.offset,
        valueType: extraction.valueType,
        selectedValues: extraction.selectedValues,
        detail: extraction.detail,
      });
      return 0;
    }

    this.context.messages[MessageResult.Accepted].inc();
    const { configName, source } = this.context;
    for (const identifier of extraction.identifiers) {
      this.context.enqueuer.enqueue({
        configName,
        sourceType: source.type,
        sourceIndex: source.index,
        identifier,
        receivedAt,
      });
    }
    this.totals.identifiers += extraction.identifiers.length;
    this.logger.debug(
      { identifiers: extraction.identifiers, skippedValues: extraction.skippedValues },
      "document accepted",
    );
    return extraction.identifiers.length;
  }

  /** Logs an info line about the connection, within the source's limit on such lines. */
  private logLifecycle(fields: Record<string, unknown>, message: string): void {
    const permit = this.context.logLimits.lifecycle.take();
    if (!permit.allowed) return;
    this.logger.info({ ...fields, suppressedLines: permit.suppressed }, message);
  }

  private reject(reason: MessageResult, fields: Record<string, unknown>): void {
    this.context.messages[reason].inc();
    this.totals.rejected += 1;

    const permit = this.context.logLimits.rejections.take();
    if (!permit.allowed) return;
    this.logger.warn(
      {
        reason,
        ...this.context.extractionSettings,
        suppressedWarnings: permit.suppressed,
        ...fields,
      },
      "document rejected",
    );
  }

  /** Stops reading the socket until `resumeReading`; ignored while the connection closes. */
  protected pauseReading(): void {
    if (this.closing || this.paused || this.socket.destroyed) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Starts reading a paused socket again. */
  protected resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.socket.destroyed) this.socket.resume();
  }

  /**
   * Closes a connection that sent nothing for `idleTimeoutMs`, so idle or half-open senders
   * cannot hold every connection slot. A paused socket is not idle: the gateway stopped it.
   */
  private onIdle(): void {
    if (this.paused || this.socket.destroyed) return;
    this.context.idleTimeouts.inc();
    this.logLifecycle({ idleTimeoutMs: this.context.idleTimeoutMs }, "closing idle connection");
    this.socket.destroy();
  }

  private onError(error: NodeJS.ErrnoException): void {
    // Some clients close with a reset as a matter of course, and its stack adds nothing.
    if (error.code === "ECONNRESET" || error.code === "EPIPE") {
      this.logLifecycle({ code: error.code }, "sender reset the connection");
    } else {
      this.logger.warn({ err: error, code: error.code }, "connection failed");
    }
  }

  private onClose(): void {
    clearTimeout(this.graceTimer);
    this.releaseThrottledFrames();
    for (const frame of this.framer.end()) this.handleFrame(frame, Date.now());
    this.context.openConnections.dec();
    this.logLifecycle({ ...this.totals }, "connection closed");
  }
}
