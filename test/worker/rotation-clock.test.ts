import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatRfc3339Nanoseconds, MonotonicClock } from "../../worker/rotation-clock.js";

const RFC3339_NANOSECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

describe("formatRfc3339Nanoseconds", () => {
  it("formats nine fraction digits", () => {
    const epochNanoseconds = BigInt(Date.parse("2026-12-04T16:20:01Z")) * 1_000_000n + 123_456_789n;
    assert.equal(formatRfc3339Nanoseconds(epochNanoseconds), "2026-12-04T16:20:01.123456789Z");
  });

  it("pads small fractions", () => {
    assert.equal(formatRfc3339Nanoseconds(1n), "1970-01-01T00:00:00.000000001Z");
    assert.equal(formatRfc3339Nanoseconds(0n), "1970-01-01T00:00:00.000000000Z");
  });
});

describe("MonotonicClock", () => {
  it("uses wall milliseconds and hrtime digits", () => {
    const clock = new MonotonicClock(
      () => Date.parse("2026-12-04T16:20:01.123Z"),
      () => 98_765_456_789n,
    );
    assert.equal(clock.nowRfc3339(), "2026-12-04T16:20:01.123456789Z");
  });

  it("bumps a repeated reading by 1 ns", () => {
    const clock = new MonotonicClock(
      () => 1_000,
      () => 5n,
    );
    assert.equal(clock.nowNanoseconds(), 1_000_000_005n);
    assert.equal(clock.nowNanoseconds(), 1_000_000_006n);
    assert.equal(clock.nowNanoseconds(), 1_000_000_007n);
  });

  it("never goes back with the wall clock", () => {
    const wall = [2_000, 1_000];
    const clock = new MonotonicClock(
      () => wall.shift() ?? 1_000,
      () => 0n,
    );
    const first = clock.nowNanoseconds();
    const second = clock.nowNanoseconds();
    assert.equal(second, first + 1n);
  });

  it("consecutive readings are unique and ordered", () => {
    const clock = new MonotonicClock();
    const readings = Array.from({ length: 10_000 }, () => clock.nowRfc3339());
    assert.equal(new Set(readings).size, readings.length);
    for (const reading of readings.slice(0, 3)) {
      assert.match(reading, RFC3339_NANOSECONDS);
    }
    const sorted = [...readings].sort();
    assert.deepEqual(sorted, readings);
  });

  it("tracks the wall clock", () => {
    const reading = new MonotonicClock().nowRfc3339();
    const drift = Math.abs(Date.parse(reading) - Date.now());
    assert.ok(drift < 1000, `drift ${drift} ms`);
  });
});
