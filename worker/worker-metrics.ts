import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Outcomes counted by `reloader_worker_patches_total`. */
export const PatchResult = {
  /** The API server accepted the patch. */
  Patched: "patched",
  /** The ExternalSecret was deleted before the patch (404); the job completes. */
  Gone: "gone",
  /** The attempt failed and the job will be retried. */
  Retried: "retried",
  /** The job failed for good: a permanent error, or the last attempt failed. */
  Failed: "failed",
} as const;
export type PatchResult = (typeof PatchResult)[keyof typeof PatchResult];

/** The Prometheus metrics of the worker. */
export interface WorkerMetrics {
  readonly patches: Counter<"result">;
  readonly targetsResolved: Counter;
  readonly cacheSynced: Gauge;
  readonly patchDuration: Histogram;
}

/**
 * Creates the worker's metrics in `registry`. Each registry can hold them once, so give
 * every worker instance in a process its own registry.
 *
 * @throws Error from prom-client when `registry` already contains a metric of the same name.
 */
export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const patches = new Counter({
    name: "reloader_worker_patches_total",
    help: "Patch attempts on ExternalSecrets, by result: patched, gone (object deleted), retried, failed (no retry left).",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  for (const result of Object.values(PatchResult)) {
    patches.inc({ result }, 0);
  }

  const targetsResolved = new Counter({
    name: "reloader_worker_targets_resolved_total",
    help: "ExternalSecrets selected for patching by rotation events, summed over events.",
    registers: [registry],
  });

  const cacheSynced = new Gauge({
    name: "reloader_worker_cache_synced",
    help: "1 while the ExternalSecret and Namespace informers are listed and watching, else 0.",
    registers: [registry],
  });

  const patchDuration = new Histogram({
    name: "reloader_worker_patch_duration_seconds",
    help: "Duration of PATCH requests to the Kubernetes API server, in seconds, whatever their result.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  return { patches, targetsResolved, cacheSynced, patchDuration };
}
