import assert from "node:assert/strict";
import { test } from "node:test";
import { LogRateLimiter } from "../../shared/log-rate-limiter.js";

test("LogRateLimiter allows limit per window", () => {
  const limiter = new LogRateLimiter(2, 1000);
  assert.deepEqual(limiter.take(0), { allowed: true, suppressed: 0 });
  assert.deepEqual(limiter.take(10), { allowed: true, suppressed: 0 });
  assert.deepEqual(limiter.take(20), { allowed: false, suppressed: 1 });
  assert.deepEqual(limiter.take(999), { allowed: false, suppressed: 2 });
});

test("LogRateLimiter reports suppressed count", () => {
  const limiter = new LogRateLimiter(1, 1000);
  limiter.take(0);
  limiter.take(1);
  limiter.take(2);
  assert.deepEqual(limiter.take(1000), { allowed: true, suppressed: 2 });
  assert.deepEqual(limiter.take(1001), { allowed: false, suppressed: 1 });
});
