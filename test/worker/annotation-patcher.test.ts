import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { RotationEvent } from "../../shared/queue-contract.js";
import {
  buildRotationPatch,
  formatTriggerSource,
  LAST_ROTATED_ANNOTATION,
  ROTATION_PATCH_CONTENT_TYPE,
  TRIGGER_SOURCE_ANNOTATION,
} from "../../worker/annotation-patcher.js";

const EVENT: RotationEvent = {
  configName: "tcp-default",
  sourceType: "TCPSocket",
  sourceIndex: 0,
  identifier: "app/db-password",
  receivedAt: 1_790_000_000_000,
};

describe("rotation patch", () => {
  it("formats the trigger source", () => {
    assert.equal(formatTriggerSource(EVENT), "TCPSocket/tcp-default: app/db-password");
  });

  it("shortens a huge identifier", () => {
    const identifier = `app/${"x".repeat(300_000)}`;
    const text = formatTriggerSource({ ...EVENT, identifier });
    assert.ok(text.length < 1000, `trigger source of ${text.length} characters`);
    assert.ok(text.startsWith(`TCPSocket/tcp-default: app/xxx`));
    assert.ok(text.endsWith("... (300004 characters)"));
  });

  it("sets both annotations only", () => {
    assert.deepEqual(buildRotationPatch(EVENT, "2026-12-04T16:20:01.123456789Z"), {
      metadata: {
        annotations: {
          "reloader/last-rotated": "2026-12-04T16:20:01.123456789Z",
          "reloader/trigger-source": "TCPSocket/tcp-default: app/db-password",
        },
      },
    });
  });

  it("uses the documented names", () => {
    assert.equal(LAST_ROTATED_ANNOTATION, "reloader/last-rotated");
    assert.equal(TRIGGER_SOURCE_ANNOTATION, "reloader/trigger-source");
    assert.equal(ROTATION_PATCH_CONTENT_TYPE, "application/merge-patch+json");
  });
});
