import { AbortError, ApiException, FetchError } from "@kubernetes/client-node";

/**
 * Classification of Kubernetes API failures by what a patch job does next: finish as
 * gone, retry, or fail at once.
 */

/** Outcome of a failed API request for the job that sent it. */
export const ApiFailureKind = {
  /** 404: the object was deleted, so there is nothing left to patch. */
  Gone: "gone",
  /** 408, 409, 429, 5xx and network errors: the same request may succeed later. */
  Retryable: "retryable",
  /** Any other 4xx: the request itself is wrong and repeating it cannot help. */
  Permanent: "permanent",
} as const;
export type ApiFailureKind = (typeof ApiFailureKind)[keyof typeof ApiFailureKind];

/** A failed API request, sorted and described. */
export interface ApiFailure {
  readonly kind: ApiFailureKind;
  /** HTTP status, or `undefined` when no response arrived. */
  readonly statusCode: number | undefined;
  /** One line for logs and job failure reasons, such as `HTTP 422 Invalid: <API message>`. */
  readonly description: string;
  /** Minimum wait before a retry in ms, from a `Retry-After` response header. */
  readonly retryAfterMs: number | undefined;
}

/** Longest API message kept in a description, in characters. */
const MAX_MESSAGE_LENGTH = 500;

/** Statuses besides 5xx after which the same request is retried. */
const RETRYABLE_CLIENT_STATUSES: ReadonlySet<number> = new Set([408, 409, 429]);

/**
 * Sorts an error thrown by a client-node API call. Errors that are neither HTTP responses
 * nor known network failures are treated as retryable, so a bug shows up as retries in the
 * logs and then in the failed set, never as a silently dropped patch.
 */
export function classifyApiError(error: unknown, nowMs: number = Date.now()): ApiFailure {
  if (error instanceof ApiException) {
    const apiError = error as ApiException<unknown>;
    return classifyHttpStatus(apiError.code, apiError.body, apiError.headers, nowMs);
  }

  // A watch that gets an error response throws a plain Error with `statusCode` set.
  const watchStatusCode = readWatchStatusCode(error);
  if (watchStatusCode !== undefined) {
    return classifyHttpStatus(watchStatusCode, (error as Error).message, undefined, nowMs);
  }

  if (isTimeout(error)) {
    return {
      kind: ApiFailureKind.Retryable,
      statusCode: undefined,
      description: "request timed out: no response within the patch timeout",
      retryAfterMs: undefined,
    };
  }

  if (isNetworkError(error)) {
    const { code, message } = error as { code?: unknown; message: string };
    const prefix = typeof code === "string" ? `${code}: ` : "";
    return {
      kind: ApiFailureKind.Retryable,
      statusCode: undefined,
      description: `network error: ${prefix}${message}`,
      retryAfterMs: undefined,
    };
  }

  return {
    kind: ApiFailureKind.Retryable,
    statusCode: undefined,
    description: `unexpected error: ${error instanceof Error ? error.message : String(error)}`,
    retryAfterMs: undefined,
  };
}

function classifyHttpStatus(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> | undefined,
  nowMs: number,
): ApiFailure {
  const description = describeHttpError(statusCode, body);
  const retryAfterMs = parseRetryAfter(readHeader(headers, "retry-after"), nowMs);

  let kind: ApiFailureKind;
  if (statusCode === 404) {
    kind = ApiFailureKind.Gone;
  } else if (statusCode >= 500 || RETRYABLE_CLIENT_STATUSES.has(statusCode)) {
    kind = ApiFailureKind.Retryable;
  } else {
    kind = ApiFailureKind.Permanent;
  }

  return { kind, statusCode, description, retryAfterMs };
}

/**
 * Describes an HTTP error from the status and the Kubernetes `Status` body, which
 * client-node passes on as text: `HTTP 422 Invalid: <message>`.
 */
export function describeHttpError(statusCode: number, body: unknown): string {
  const status = parseStatusBody(body);
  const reason = status.reason === undefined ? "" : ` ${status.reason}`;
  const message = status.message === undefined ? "" : `: ${truncate(status.message)}`;
  return `HTTP ${statusCode}${reason}${message}`;
}

/** An HTTP date in the IMF-fixdate form of RFC 9110, such as `Fri, 04 Dec 2026 16:20:05 GMT`. */
const HTTP_DATE_PATTERN = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Converts a `Retry-After` header to milliseconds. Accepts delay-seconds (what the
 * Kubernetes API server sends) and an IMF-fixdate HTTP date. Returns `undefined` for a
 * missing or unreadable value.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) {
    return undefined;
  }

  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    return Number(trimmed) * 1000;
  }

  // Date.parse alone is too lenient: V8 reads "-1" as the year 2001.
  const dateMs = HTTP_DATE_PATTERN.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(dateMs)) {
    return undefined;
  }

  return Math.max(0, dateMs - nowMs);
}

function readWatchStatusCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) {
    return undefined;
  }

  const { statusCode } = error as { statusCode?: unknown };
  return typeof statusCode === "number" ? statusCode : undefined;
}

/** Tells whether a request was aborted by its time limit. */
function isTimeout(error: unknown): boolean {
  const name = error instanceof Error ? error.name : undefined;
  return error instanceof AbortError || name === "AbortError" || name === "TimeoutError";
}

function isNetworkError(error: unknown): boolean {
  if (error instanceof FetchError || error instanceof AbortError) {
    return true;
  }

  // node-fetch 2, which client-node 1.4 uses, rejects an aborted request with its AbortError.
  // Native fetch rejects one aborted by AbortSignal.timeout() with a DOMException named TimeoutError.
  const name = error instanceof Error ? error.name : undefined;
  return name === "AbortError" || name === "TimeoutError" || name === "FetchError";
}

function parseStatusBody(body: unknown): { reason?: string; message?: string } {
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() === "" ? {} : { message: body.trim() };
    }
  }

  if (typeof parsed !== "object" || parsed === null) {
    return {};
  }

  const { reason, message } = parsed as { reason?: unknown; message?: unknown };
  return {
    reason: typeof reason === "string" && reason !== "" ? reason : undefined,
    message: typeof message === "string" && message !== "" ? message : undefined,
  };
}

function readHeader(headers: Record<string, string> | undefined, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === name) {
      return value;
    }
  }

  return undefined;
}

function truncate(text: string): string {
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH)}…`;
}
