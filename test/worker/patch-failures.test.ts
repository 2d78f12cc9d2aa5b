import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import type { Job } from "bullmq";

import type { PatchRequest } from "../../shared/queue-contract.js";
import { DEFAULT_FIELD_MANAGER } from "../../worker/annotation-patcher.js";
import { formatPatchJobId } from "../../worker/rotation-processor.js";
import type { LoggedRequest } from "../kube-api/request-log.js";
import { startWorkerHarness, waitFor, type WorkerHarness } from "./support/worker-harness.js";

const STRIPE = { namespace: "payments", name: "stripe" };
const STRIPE_PATH = "/apis/external-secrets.io/v1/namespaces/payments/externalsecrets/stripe";

function stripePatches(harness: WorkerHarness): LoggedRequest[] {
  return harness.emulator.requests.list(
    (request) => request.method === "PATCH" && request.path === STRIPE_PATH,
  );
}

/** Rotates `payments/stripe-key`, whose only target is payments/stripe, and waits for the patch job to finish. */
async function rotateStripe(harness: WorkerHarness): Promise<Job<PatchRequest>> {
  const rotationJobId = await harness.rotate("payments/stripe-key");
  const patchJobId = formatPatchJobId(rotationJobId, STRIPE);
  return waitFor(`patch job ${patchJobId} to finish`, async () => {
    const job = await harness.patchQueue.getJob(patchJobId);
    return job?.finishedOn === undefined ? undefined : job;
  });
}

describe("annotation patch requests", () => {
  let harness: WorkerHarness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("sends a merge patch with fieldManager", async () => {
    harness = await startWorkerHarness();
    await rotateStripe(harness);

    const [request] = stripePatches(harness);
    assert.ok(request !== undefined, "no PATCH request reached the emulator");
    assert.equal(request.contentType, "application/merge-patch+json");
    assert.equal(request.query.fieldManager, DEFAULT_FIELD_MANAGER);
    assert.equal(request.status, 200);

    const body = JSON.parse(request.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ["metadata"]);
  });

  it("retries 500 until success", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "patch", name: "stripe", status: 500, times: 2 }),
    });
    const job = await rotateStripe(harness);

    assert.equal(await job.getState(), "completed");
    // BullMQ counts the successful attempt in attemptsMade too.
    assert.equal(job.attemptsMade, 3);
    assert.deepEqual(
      stripePatches(harness).map((request) => request.status),
      [500, 500, 200],
    );
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "retried" }), 2);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "patched" }), 1);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "failed" }), 0);
  });

  it("retries a reset connection", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "patch", name: "stripe", resetConnection: true, times: 1 }),
    });
    const job = await rotateStripe(harness);

    assert.equal(await job.getState(), "completed");
    assert.equal(job.attemptsMade, 2);
    assert.deepEqual(
      stripePatches(harness).map((request) => request.status),
      [undefined, 200],
    );
  });

  it("retries a timed-out request", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "patch", name: "stripe", latencyMs: 1000, times: 1 }),
      workerOptions: { patchTimeoutMs: 100 },
    });
    const job = await rotateStripe(harness);

    assert.equal(await job.getState(), "completed");
    assert.equal(job.attemptsMade, 2);
    assert.equal(stripePatches(harness).length, 2);
    const warning = harness.memory.entries.find(
      (entry) => entry.msg === "patch failed; retrying with backoff",
    );
    assert.match(String(warning?.reason), /^request timed out: /);
  });

  it("fails after the last attempt", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "patch", name: "stripe", status: 503, retryAfterSeconds: 0 }),
    });
    const job = await rotateStripe(harness);

    assert.equal(await job.getState(), "failed");
    assert.equal(job.attemptsMade, 4);
    assert.match(job.failedReason, /attempt 4 of 4: HTTP 503/);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "retried" }), 3);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "failed" }), 1);
  });

  it("waits for Retry-After on 429", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({
          verb: "patch",
          name: "stripe",
          status: 429,
          retryAfterSeconds: 1,
          times: 1,
        }),
    });
    const job = await rotateStripe(harness);

    assert.equal(await job.getState(), "completed");
    const [rejected, accepted] = stripePatches(harness);
    assert.equal(rejected?.status, 429);
    assert.equal(accepted?.status, 200);
    const waitedMs =
      Date.parse(accepted?.receivedAt ?? "") - Date.parse(rejected?.receivedAt ?? "");
    assert.ok(waitedMs >= 1000, `retried after ${waitedMs} ms, before the 1 s Retry-After`);
  });

  for (const status of [400, 403, 422]) {
    it(`fails at once on ${status}`, async () => {
      harness = await startWorkerHarness({
        beforeWorker: (emulator) =>
          emulator.faults.add({
            verb: "patch",
            name: "stripe",
            status,
            message: "injected rejection",
            times: 1,
          }),
      });
      const job = await rotateStripe(harness);

      assert.equal(await job.getState(), "failed");
      assert.equal(job.attemptsMade, 1);
      assert.equal(stripePatches(harness).length, 1);
      assert.match(job.failedReason, new RegExp(`HTTP ${status} \\w+: injected rejection`));
      assert.match(job.failedReason, /ExternalSecret payments\/stripe/);
      assert.equal(await harness.metric("reloader_worker_patches_total", { result: "failed" }), 1);
      assert.equal(await harness.metric("reloader_worker_patches_total", { result: "retried" }), 0);
    });
  }

  it("counts 404 as gone", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "patch", name: "stripe", status: 404, times: 1 }),
    });
    const job = await rotateStripe(harness);

    assert.equal(await job.getState(), "completed");
    assert.deepEqual(job.returnvalue, { result: "gone" });
    assert.equal(stripePatches(harness).length, 1);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "gone" }), 1);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "patched" }), 0);
  });

  it("one failing target does not block others", async () => {
    harness = await startWorkerHarness({
      beforeWorker: (emulator) =>
        emulator.faults.add({
          verb: "patch",
          namespace: "sandbox",
          name: "db-credentials",
          status: 422,
        }),
    });
    const rotationJobId = await harness.rotate("app/db-password");
    const states = await waitFor("three patch jobs to finish", async () => {
      const ids = [
        formatPatchJobId(rotationJobId, { namespace: "payments", name: "db-credentials" }),
        formatPatchJobId(rotationJobId, { namespace: "sandbox", name: "db-credentials" }),
        formatPatchJobId(rotationJobId, { namespace: "web", name: "all-app-secrets" }),
      ];
      const jobs = await Promise.all(ids.map((id) => harness?.patchQueue.getJob(id)));
      if (jobs.some((job) => job?.finishedOn === undefined)) {
        return undefined;
      }
      return Promise.all(jobs.map((job) => job?.getState()));
    });

    assert.deepEqual(states, ["completed", "failed", "completed"]);
  });
});
