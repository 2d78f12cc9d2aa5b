import { UnrecoverableError, type Job, type JobsOptions, type Queue } from "bullmq";

import type { ReloaderConfig } from "../shared/config-schema.js";
import type { Logger } from "../shared/logger.js";
import type { PatchRequest, RotationEvent } from "../shared/queue-contract.js";
import { formatObjectKey, type ObjectRef } from "./external-secret.js";
import type { WorkerMetrics } from "./worker-metrics.js";

/** Name of every job this worker adds to the patch queue. */
export const PATCH_JOB_NAME = "patch-external-secret";

/** At most this many targets are listed in a log line or a job's return value; the count is always complete. */
const MAX_LISTED_TARGETS = 100;

/** Finds the targets of a rotation; implemented by the cluster cache. */
export interface TargetFinder {
  findTargets(config: ReloaderConfig, identifier: string): readonly ObjectRef[];
}

/** Return value of a rotation job, which BullMQ stores with the job. */
export interface RotationJobResult {
  readonly targetCount: number;
  /** `<namespace>/<name>` of the first targets, at most 100. */
  readonly targets: readonly string[];
}

/** Dependencies of the rotation processor. */
export interface RotationProcessorOptions {
  readonly configs: readonly ReloaderConfig[];
  readonly targetFinder: TargetFinder;
  readonly patchQueue: Queue<PatchRequest>;
  /** Options of each patch job; built with `createPatchJobOptions`. */
  readonly patchJobOptions: JobsOptions;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
}

/**
 * Builds the processor of rotation jobs. Each job resolves its event to the matching
 * ExternalSecrets from the cache and adds one patch job per target, so every target is
 * retried on its own.
 *
 * Patch job ids derive from the rotation job id and the target. If a rotation job runs
 * again after adding some of its patch jobs, BullMQ skips the ids it already holds, so no
 * target is patched twice for one event while those jobs are kept.
 */
export function createRotationProcessor(
  options: RotationProcessorOptions,
): (job: Job<RotationEvent>) => Promise<RotationJobResult> {
  const configsByName = new Map(options.configs.map((config) => [config.name, config]));

  return async (job) => {
    const event = readRotationEvent(job);
    const jobId = job.id ?? "";
    const logger = options.logger.child({
      jobId,
      configName: event.configName,
      identifier: event.identifier,
    });

    const config = configsByName.get(event.configName);
    if (config === undefined) {
      const known = [...configsByName.keys()].join(", ");
      throw new UnrecoverableError(
        `unknown Config "${event.configName}" in rotation job ${jobId}; this worker has loaded: ${known === "" ? "none" : known}. ` +
          "Load the same Config files in the gateway and the worker",
      );
    }

    const targets = options.targetFinder.findTargets(config, event.identifier);
    await options.patchQueue.addBulk(
      targets.map((target) => ({
        name: PATCH_JOB_NAME,
        data: { namespace: target.namespace, name: target.name, event, eventJobId: jobId },
        opts: { ...options.patchJobOptions, jobId: formatPatchJobId(jobId, target) },
      })),
    );
    options.metrics.targetsResolved.inc(targets.length);

    const listed = targets.slice(0, MAX_LISTED_TARGETS).map(formatObjectKey);
    logger.info(
      { targetCount: targets.length, targets: listed },
      "resolved rotation event to patch jobs",
    );
    return { targetCount: targets.length, targets: listed };
  };
}

/**
 * Returns the id of the patch job for one target of one rotation job:
 * `<rotation job id>/<namespace>/<name>`. BullMQ rejects `:` in custom ids, so any colon
 * in the rotation job id becomes `_`.
 */
export function formatPatchJobId(rotationJobId: string, target: ObjectRef): string {
  return `${rotationJobId.replaceAll(":", "_")}/${target.namespace}/${target.name}`;
}

function readRotationEvent(job: Job<RotationEvent>): RotationEvent {
  const data: Partial<Record<keyof RotationEvent, unknown>> = job.data ?? {};
  const valid =
    typeof data.configName === "string" &&
    data.configName !== "" &&
    typeof data.identifier === "string" &&
    data.identifier !== "" &&
    typeof data.sourceType === "string";

  if (!valid) {
    throw new UnrecoverableError(
      `invalid rotation job ${job.id ?? ""}: expected data with non-empty string configName and identifier and a string sourceType; ` +
        "the job was not written by a compatible gateway",
    );
  }

  return job.data;
}
