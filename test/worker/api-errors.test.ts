import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { AbortError, ApiException, FetchError } from "@kubernetes/client-node";

import {
  ApiFailureKind,
  classifyApiError,
  describeHttpError,
  parseRetryAfter,
} from "../../worker/api-errors.js";

const NOW = Date.parse("2026-12-04T16:20:00Z");

function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message,
  });
}

function apiError(
  code: number,
  body: unknown = "",
  headers: Record<string, string> = {},
): ApiException<unknown> {
  return new ApiException(code, "Unknown API Status Code!", body, headers);
}

describe("classifyApiError statuses", () => {
  const cases: Array<[number, ApiFailureKind]> = [
    [404, ApiFailureKind.Gone],
    [408, ApiFailureKind.Retryable],
    [409, ApiFailureKind.Retryable],
    [429, ApiFailureKind.Retryable],
    [500, ApiFailureKind.Retryable],
    [502, ApiFailureKind.Retryable],
    [503, ApiFailureKind.Retryable],
    [504, ApiFailureKind.Retryable],
    [400, ApiFailureKind.Permanent],
    [401, ApiFailureKind.Permanent],
    [403, ApiFailureKind.Permanent],
    [405, ApiFailureKind.Permanent],
    [415, ApiFailureKind.Permanent],
    [422, ApiFailureKind.Permanent],
  ];

  for (const [status, kind] of cases) {
    it(`HTTP ${status} is ${kind}`, () => {
      const failure = classifyApiError(apiError(status), NOW);
      assert.equal(failure.kind, kind);
      assert.equal(failure.statusCode, status);
    });
  }
});

describe("classifyApiError details", () => {
  it("describes the Status body", () => {
    const body = statusBody(
      422,
      "Invalid",
      'ExternalSecret.external-secrets.io "x" is invalid: metadata.annotations: Invalid value',
    );
    const failure = classifyApiError(apiError(422, body), NOW);
    assert.equal(
      failure.description,
      'HTTP 422 Invalid: ExternalSecret.external-secrets.io "x" is invalid: metadata.annotations: Invalid value',
    );
  });

  it("reads Retry-After seconds", () => {
    const failure = classifyApiError(
      apiError(429, statusBody(429, "TooManyRequests", "slow down"), { "retry-after": "3" }),
      NOW,
    );
    assert.equal(failure.kind, ApiFailureKind.Retryable);
    assert.equal(failure.retryAfterMs, 3000);
  });

  it("reads Retry-After on 503", () => {
    const failure = classifyApiError(apiError(503, "", { "Retry-After": "1" }), NOW);
    assert.equal(failure.retryAfterMs, 1000);
  });

  it("no Retry-After leaves it undefined", () => {
    assert.equal(classifyApiError(apiError(500), NOW).retryAfterMs, undefined);
  });

  it("network errors are retryable", () => {
    const connectionRefused = new FetchError(
      "request to https://127.0.0.1:1/ failed, reason: connect ECONNREFUSED",
      "system",
      {
        code: "ECONNREFUSED",
      } as unknown as ConstructorParameters<typeof FetchError>[2],
    );
    const failure = classifyApiError(connectionRefused, NOW);
    assert.equal(failure.kind, ApiFailureKind.Retryable);
    assert.equal(failure.statusCode, undefined);
    assert.match(failure.description, /^network error: ECONNREFUSED: request to/);
  });

  it("aborted requests are retryable", () => {
    assert.equal(
      classifyApiError(new AbortError("The user aborted a request."), NOW).kind,
      ApiFailureKind.Retryable,
    );
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    assert.equal(classifyApiError(timeout, NOW).kind, ApiFailureKind.Retryable);
    assert.match(classifyApiError(timeout, NOW).description, /^request timed out/);
  });

  it("watch errors use statusCode", () => {
    const error = Object.assign(new Error("Gone"), { statusCode: 410 });
    const failure = classifyApiError(error, NOW);
    assert.equal(failure.statusCode, 410);
    assert.equal(failure.description, "HTTP 410: Gone");
  });

  it("unknown errors are retryable", () => {
    const failure = classifyApiError(new TypeError("boom"), NOW);
    assert.equal(failure.kind, ApiFailureKind.Retryable);
    assert.equal(failure.description, "unexpected error: boom");
  });
});

describe("describeHttpError", () => {
  it("accepts a parsed body", () => {
    assert.equal(
      describeHttpError(403, { reason: "Forbidden", message: "no patch" }),
      "HTTP 403 Forbidden: no patch",
    );
  });

  it("keeps plain-text bodies", () => {
    assert.equal(describeHttpError(502, "bad gateway\n"), "HTTP 502: bad gateway");
  });

  it("works without a body", () => {
    assert.equal(describeHttpError(500, undefined), "HTTP 500");
    assert.equal(describeHttpError(500, ""), "HTTP 500");
  });

  it("truncates long messages", () => {
    const description = describeHttpError(400, { message: "x".repeat(2000) });
    assert.ok(description.length < 520, `length ${description.length}`);
    assert.ok(description.endsWith("…"));
  });
});

describe("parseRetryAfter", () => {
  it("reads delay-seconds", () => {
    assert.equal(parseRetryAfter("0", NOW), 0);
    assert.equal(parseRetryAfter(" 12 ", NOW), 12_000);
  });

  it("reads an HTTP date", () => {
    assert.equal(parseRetryAfter("Fri, 04 Dec 2026 16:20:05 GMT", NOW), 5000);
  });

  it("past dates become zero", () => {
    assert.equal(parseRetryAfter("Fri, 04 Dec 2026 16:19:00 GMT", NOW), 0);
  });

  it("rejects unreadable values", () => {
    assert.equal(parseRetryAfter(undefined, NOW), undefined);
    assert.equal(parseRetryAfter("soon", NOW), undefined);
    assert.equal(parseRetryAfter("-1", NOW), undefined);
  });
});
