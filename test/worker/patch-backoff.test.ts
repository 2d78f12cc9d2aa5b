import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { MinimalJob } from "bullmq";

import { PATCH_JOB_OPTIONS } from "../../shared/queue-contract.js";
import {
  computePatchRetryDelay,
  createPatchJobOptions,
  PATCH_BACKOFF_TYPE,
  patchBackoffStrategy,
  RetryablePatchError,
} from "../../worker/patch-backoff.js";

function jobWithBackoff(delay: number, jitter: number): MinimalJob {
  return {
    opts: { backoff: { type: PATCH_BACKOFF_TYPE, delay, jitter } },
  } as unknown as MinimalJob;
}

describe("computePatchRetryDelay", () => {
  it("doubles per attempt without jitter", () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((attempt) => computePatchRetryDelay(attempt, 500, 0, undefined)),
      [500, 1000, 2000, 4000],
    );
  });

  it("jitter takes off up to its share", () => {
    assert.equal(
      computePatchRetryDelay(3, 500, 0.5, undefined, () => 0),
      1000,
    );
    assert.equal(
      computePatchRetryDelay(3, 500, 0.5, undefined, () => 0.999_999),
      1999,
    );
  });

  it("Retry-After is a minimum", () => {
    assert.equal(computePatchRetryDelay(1, 500, 0, 3000), 3000);
    assert.equal(computePatchRetryDelay(5, 500, 0, 3000), 8000);
  });
});

describe("patchBackoffStrategy", () => {
  it("reads delay from the job", async () => {
    const delay = await patchBackoffStrategy(
      2,
      PATCH_BACKOFF_TYPE,
      new Error("HTTP 500"),
      jobWithBackoff(100, 0),
    );
    assert.equal(delay, 200);
  });

  it("honours RetryablePatchError.retryAfterMs", async () => {
    const error = new RetryablePatchError("HTTP 429", 2000);
    const delay = await patchBackoffStrategy(1, PATCH_BACKOFF_TYPE, error, jobWithBackoff(100, 0));
    assert.equal(delay, 2000);
  });
});

describe("createPatchJobOptions", () => {
  it("keeps PATCH_JOB_OPTIONS with the custom type", () => {
    const options = createPatchJobOptions();
    assert.equal(options.attempts, PATCH_JOB_OPTIONS.attempts);
    assert.deepEqual(options.removeOnComplete, PATCH_JOB_OPTIONS.removeOnComplete);
    assert.deepEqual(options.backoff, { type: PATCH_BACKOFF_TYPE, delay: 500, jitter: 0.5 });
  });

  it("applies overrides", () => {
    const options = createPatchJobOptions({
      attempts: 3,
      backoff: { type: "exponential", delay: 20 },
    });
    assert.equal(options.attempts, 3);
    assert.deepEqual(options.backoff, { type: PATCH_BACKOFF_TYPE, delay: 20, jitter: 0 });
  });

  it("accepts a bare delay", () => {
    assert.deepEqual(createPatchJobOptions({ backoff: 50 }).backoff, {
      type: PATCH_BACKOFF_TYPE,
      delay: 50,
      jitter: 0,
    });
  });
});
