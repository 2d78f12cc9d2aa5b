import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, it } from "node:test";

import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Job } from "bullmq";

import type { PatchRequest } from "../../shared/queue-contract.js";
import { DEFAULT_REDIS_URL } from "../../shared/redis-connection.js";
import {
  LAST_ROTATED_ANNOTATION,
  TRIGGER_SOURCE_ANNOTATION,
} from "../../worker/annotation-patcher.js";
import { MonotonicClock } from "../../worker/rotation-clock.js";
import { formatPatchJobId } from "../../worker/rotation-processor.js";
import type { KubeApiEmulator } from "../kube-api/emulator.js";
import { startWorkerHarness, waitFor, type WorkerHarness } from "./support/worker-harness.js";

const ALL_EXTERNAL_SECRETS = [
  "payments/db-credentials",
  "payments/stripe",
  "payments/unrelated",
  "sandbox/db-credentials",
  "web/all-app-secrets",
  "web/rendered-config",
];

const RFC3339_NANOSECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

function annotationsOf(emulator: KubeApiEmulator, key: string): Record<string, string> {
  const [namespace = "", name = ""] = key.split("/");
  const object = emulator.store.get("externalsecrets", namespace, name);
  assert.ok(object !== undefined, `ExternalSecret ${key} is missing from the emulator`);
  const metadata = object.metadata as { annotations?: Record<string, string> };
  return metadata.annotations ?? {};
}

function annotatedKeys(emulator: KubeApiEmulator): string[] {
  return ALL_EXTERNAL_SECRETS.filter(
    (key) => annotationsOf(emulator, key)[LAST_ROTATED_ANNOTATION] !== undefined,
  );
}

async function finishedPatchJob(harness: WorkerHarness, jobId: string): Promise<Job<PatchRequest>> {
  return waitFor(`patch job ${jobId} to finish`, async () => {
    const job = await harness.patchQueue.getJob(jobId);
    return job?.finishedOn === undefined ? undefined : job;
  });
}

describe("ReconcileWorker targets", () => {
  let harness: WorkerHarness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("annotates exactly the referencing objects", async () => {
    harness = await startWorkerHarness();
    const { emulator } = harness;
    const expected = ["payments/db-credentials", "sandbox/db-credentials", "web/all-app-secrets"];

    const rotationJobId = await harness.rotate("app/db-password");
    for (const key of expected) {
      const [namespace = "", name = ""] = key.split("/");
      await finishedPatchJob(harness, formatPatchJobId(rotationJobId, { namespace, name }));
    }

    assert.deepEqual(annotatedKeys(emulator), expected);
    for (const key of expected) {
      const annotations = annotationsOf(emulator, key);
      assert.match(annotations[LAST_ROTATED_ANNOTATION] ?? "", RFC3339_NANOSECONDS, key);
      assert.equal(
        annotations[TRIGGER_SOURCE_ANNOTATION],
        "TCPSocket/tcp-default: app/db-password",
        key,
      );
    }
    for (const key of ["payments/stripe", "payments/unrelated", "web/rendered-config"]) {
      assert.deepEqual(annotationsOf(emulator, key), {}, key);
    }

    const rotationJob = await harness.rotationQueue.getJob(rotationJobId);
    assert.deepEqual(rotationJob?.returnvalue, { targetCount: 3, targets: expected });
    assert.equal(await harness.metric("reloader_worker_targets_resolved_total"), 3);
    assert.equal(await harness.metric("reloader_worker_patches_total", { result: "patched" }), 3);
    assert.equal(await harness.metric("reloader_worker_cache_synced"), 1);

    const histogram = await harness.registry
      .getSingleMetric("reloader_worker_patch_duration_seconds")
      ?.get();
    const count = histogram?.values.find(
      (sample) =>
        (sample as { metricName?: string }).metricName ===
        "reloader_worker_patch_duration_seconds_count",
    );
    assert.equal(count?.value, 3);
  });

  it("logs each patched object", async () => {
    harness = await startWorkerHarness();
    const rotationJobId = await harness.rotate("payments/stripe-key");
    const patchJobId = formatPatchJobId(rotationJobId, { namespace: "payments", name: "stripe" });
    await finishedPatchJob(harness, patchJobId);

    const line = harness.memory.entries.find((entry) => entry.msg === "annotated ExternalSecret");
    assert.ok(line !== undefined, "no info line for the patched object");
    assert.equal(line.jobId, patchJobId);
    assert.equal(line.namespace, "payments");
    assert.equal(line.name, "stripe");
    assert.equal(line.identifier, "payments/stripe-key");
    assert.equal(line.configName, "tcp-default");
    assert.equal(line.eventJobId, rotationJobId);
  });

  it("selective Config filters by namespace", async () => {
    harness = await startWorkerHarness({ configFile: "config-selective.yaml" });
    const rotationJobId = await harness.rotate("app/db-password");
    await finishedPatchJob(
      harness,
      formatPatchJobId(rotationJobId, { namespace: "payments", name: "db-credentials" }),
    );

    const rotationJob = await harness.rotationQueue.getJob(rotationJobId);
    assert.deepEqual(rotationJob?.returnvalue, {
      targetCount: 1,
      targets: ["payments/db-credentials"],
    });
    assert.deepEqual(annotatedKeys(harness.emulator), ["payments/db-credentials"]);
  });

  it("events in one millisecond get distinct timestamps", async () => {
    // A clock stopped at one millisecond and one hrtime reading, so only the 1 ns bump separates the patches.
    const frozenMs = Date.parse("2026-12-04T16:20:01.123Z");
    const clock = new MonotonicClock(
      () => frozenMs,
      () => 456_789n,
    );
    harness = await startWorkerHarness({ workerOptions: { clock } });
    const [first, second] = await Promise.all([
      harness.rotate("payments/stripe-key"),
      harness.rotate("payments/stripe-key"),
    ]);
    const target = { namespace: "payments", name: "stripe" };
    const firstJob = await finishedPatchJob(harness, formatPatchJobId(first, target));
    const secondJob = await finishedPatchJob(harness, formatPatchJobId(second, target));

    const firstValue = (firstJob.returnvalue as { lastRotated?: string }).lastRotated;
    const secondValue = (secondJob.returnvalue as { lastRotated?: string }).lastRotated;
    assert.deepEqual([firstValue, secondValue].sort(), [
      "2026-12-04T16:20:01.123456789Z",
      "2026-12-04T16:20:01.123456790Z",
    ]);

    const bodies = harness.emulator.requests
      .list(
        (request) =>
          request.method === "PATCH" && request.path.endsWith("/payments/externalsecrets/stripe"),
      )
      .map(
        (request) =>
          (JSON.parse(request.body) as { metadata: { annotations: Record<string, string> } })
            .metadata.annotations,
      );
    assert.equal(bodies.length, 2);
    assert.notEqual(bodies[0]?.[LAST_ROTATED_ANNOTATION], bodies[1]?.[LAST_ROTATED_ANNOTATION]);
  });

  it("unknown Config fails the rotation job", async () => {
    harness = await startWorkerHarness();
    const rotationJobId = await harness.rotate("app/db-password", "no-such-config");
    const job = await waitFor("rotation job to fail", async () => {
      const current = await harness?.rotationQueue.getJob(rotationJobId);
      return current?.finishedOn === undefined ? undefined : current;
    });

    assert.equal(await job.getState(), "failed");
    assert.equal(job.attemptsMade, 1);
    assert.match(job.failedReason, /unknown Config "no-such-config"/);
    assert.match(job.failedReason, /this worker has loaded: tcp-default/);
    assert.equal(await harness.patchQueue.count(), 0);
  });
});

describe("ReconcileWorker cache", () => {
  let harness: WorkerHarness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("takes no job before the cache synced", async () => {
    const restartMessage = "informer list or watch failed; restarting it after a delay";
    let listFaultId = "";
    harness = await startWorkerHarness({
      start: false,
      beforeWorker: (emulator) => {
        listFaultId = emulator.faults.add({
          verb: "list",
          resource: "externalsecrets",
          status: 500,
        }).id;
      },
    });
    const rotationJobId = await harness.rotate("app/db-password");

    const starting = harness.worker.start();
    await waitFor(
      "two failed lists",
      () => harness?.memory.entries.filter((entry) => entry.msg === restartMessage).length === 2,
    );
    assert.equal(await harness.rotationQueue.getJobState(rotationJobId), "waiting");
    assert.equal(await harness.metric("reloader_worker_cache_synced"), 0);

    harness.emulator.faults.remove(listFaultId);
    await starting;
    const job = await waitFor("rotation job to complete", async () => {
      const current = await harness?.rotationQueue.getJob(rotationJobId);
      return current?.finishedOn === undefined ? undefined : current;
    });
    assert.equal((job.returnvalue as { targetCount: number }).targetCount, 3);
    assert.equal(await harness.metric("reloader_worker_cache_synced"), 1);
  });

  it("finds an ExternalSecret created after start", async () => {
    harness = await startWorkerHarness();
    const api = harness.emulator.kubeConfig().makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({
      group: "external-secrets.io",
      version: "v1",
      namespace: "sandbox",
      plural: "externalsecrets",
      body: {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: "late", namespace: "sandbox" },
        spec: {
          secretStoreRef: { kind: "ClusterSecretStore", name: "vault" },
          target: { name: "late" },
          data: [{ secretKey: "token", remoteRef: { key: "late/token" } }],
        },
      },
    });
    await waitFor(
      "the watch to deliver the new object",
      () => harness?.worker.externalSecretCount === 7,
    );

    const rotationJobId = await harness.rotate("late/token");
    const job = await finishedPatchJob(
      harness,
      formatPatchJobId(rotationJobId, { namespace: "sandbox", name: "late" }),
    );
    assert.equal(await job.getState(), "completed");
    const late = harness.emulator.store.get("externalsecrets", "sandbox", "late");
    const annotations =
      (late?.metadata as { annotations?: Record<string, string> }).annotations ?? {};
    assert.equal(annotations[TRIGGER_SOURCE_ANNOTATION], "TCPSocket/tcp-default: late/token");
  });

  it("relists after the watch history expires", async () => {
    harness = await startWorkerHarness();
    const { emulator } = harness;

    emulator.store.delete("externalsecrets", "payments", "stripe");
    await waitFor(
      "the watch to deliver the deletion",
      () => harness?.worker.externalSecretCount === 5,
    );

    // Changes made while no watch is open are only seen through a relist after 410 Gone.
    emulator.faults.add({ verb: "watch", resource: "externalsecrets", status: 500, times: 2 });
    emulator.closeWatches();
    emulator.store.delete("externalsecrets", "payments", "unrelated");
    emulator.compact();

    await waitFor(
      "the relist to drop the deleted object",
      () => harness?.worker.externalSecretCount === 4,
    );
    const lists = emulator.requests.list(
      (request) =>
        request.path === "/apis/external-secrets.io/v1/externalsecrets" &&
        request.query.watch !== "true",
    );
    assert.equal(lists.length, 2);
    const rotationJobId = await harness.rotate("app/db-password");
    await finishedPatchJob(
      harness,
      formatPatchJobId(rotationJobId, { namespace: "web", name: "all-app-secrets" }),
    );
    const rotationJob = await harness.rotationQueue.getJob(rotationJobId);
    assert.equal((rotationJob?.returnvalue as { targetCount: number }).targetCount, 3);
  });
});

describe("ReconcileWorker lifecycle", () => {
  let harness: WorkerHarness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("start fails when the cache never syncs", async () => {
    harness = await startWorkerHarness({
      start: false,
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "list", resource: "namespaces", status: 403 }),
      workerOptions: { syncTimeoutMs: 300 },
    });

    await assert.rejects(harness.worker.start(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(
        error.message,
        /cluster cache did not sync within 300 ms: namespaces could not be listed and watched/,
      );
      return true;
    });
    assert.equal(await harness.metric("reloader_worker_cache_synced"), 0);

    const warning = harness.memory.entries.find(
      (entry) => entry.msg === "informer list or watch failed; restarting it after a delay",
    );
    assert.equal(warning?.resource, "namespaces/v1");
    assert.match(String(warning?.reason), /^HTTP 403 Forbidden/);
  });

  it("close during sync rejects start", async () => {
    harness = await startWorkerHarness({
      start: false,
      beforeWorker: (emulator) =>
        emulator.faults.add({ verb: "list", resource: "externalsecrets", status: 500 }),
    });
    const rotationJobId = await harness.rotate("app/db-password");

    const starting = harness.worker.start();
    await sleep(100);
    const closing = harness.worker.close();

    await assert.rejects(starting, /closed before its informers synced/);
    await closing;
    assert.equal(harness.worker.close(), closing);
    assert.equal(await harness.rotationQueue.getJobState(rotationJobId), "waiting");
  });

  it("opens and closes its own Redis connection", async () => {
    harness = await startWorkerHarness({
      workerOptions: { connection: undefined, redisUrl: DEFAULT_REDIS_URL },
    });
    const rotationJobId = await harness.rotate("payments/stripe-key");
    await finishedPatchJob(
      harness,
      formatPatchJobId(rotationJobId, { namespace: "payments", name: "stripe" }),
    );

    await harness.worker.close();
    const stopped = harness.memory.entries.find((entry) => entry.msg === "worker stopped");
    assert.equal(stopped?.failedSteps, 0);
  });

  it("close is idempotent after start", async () => {
    harness = await startWorkerHarness();
    const first = harness.worker.close();
    const second = harness.worker.close();

    assert.equal(first, second);
    await first;
    assert.equal(harness.worker.isCacheSynced, false);
    assert.equal(await harness.metric("reloader_worker_cache_synced"), 0);
  });
});
