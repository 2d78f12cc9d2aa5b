import { UnrecoverableError, type Job } from "bullmq";

import type { Logger } from "../shared/logger.js";
import type { PatchRequest } from "../shared/queue-contract.js";
import type { AnnotationPatcher } from "./annotation-patcher.js";
import { LAST_ROTATED_ANNOTATION } from "./annotation-patcher.js";
import { ApiFailureKind, classifyApiError, type ApiFailure } from "./api-errors.js";
import { RetryablePatchError } from "./patch-backoff.js";
import { PatchResult, type WorkerMetrics } from "./worker-metrics.js";

/** Return value of a patch job, which BullMQ stores with the job. */
export interface PatchJobResult {
  readonly result: typeof PatchResult.Patched | typeof PatchResult.Gone;
  /** The `reloader/last-rotated` value written; absent when the object was gone. */
  readonly lastRotated?: string;
}

/** Dependencies of the patch processor. */
export interface PatchProcessorOptions {
  readonly patcher: Pick<AnnotationPatcher, "patch">;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
}

/**
 * Builds the processor of patch jobs. Each job annotates one ExternalSecret:
 *
 * - success, or 404 because the object is gone: the job completes.
 * - 408, 409, 429, 5xx or a network error: the job throws {@link RetryablePatchError} and
 *   BullMQ retries it with backoff, waiting at least the `Retry-After` time if the
 *   response has one.
 * - any other 4xx: the job throws `UnrecoverableError` and lands in the failed set at once,
 *   with the status, the API message and the object in its failure reason.
 */
export function createPatchProcessor(
  options: PatchProcessorOptions,
): (job: Job<PatchRequest>) => Promise<PatchJobResult> {
  return async (job) => {
    const request = readPatchRequest(job);
    const target = { namespace: request.namespace, name: request.name };
    const logger = options.logger.child({
      jobId: job.id,
      namespace: request.namespace,
      name: request.name,
    });
    const context = {
      identifier: request.event.identifier,
      configName: request.event.configName,
      eventJobId: request.eventJobId,
    };

    const stopTimer = options.metrics.patchDuration.startTimer();
    try {
      const patch = await options.patcher.patch(target, request.event);
      stopTimer();

      const lastRotated = patch.metadata.annotations[LAST_ROTATED_ANNOTATION];
      options.metrics.patches.inc({ result: PatchResult.Patched });
      logger.info({ ...context, lastRotated }, "annotated ExternalSecret");
      return { result: PatchResult.Patched, lastRotated };
    } catch (error) {
      stopTimer();
      return handlePatchFailure(classifyApiError(error), job, options, logger, context);
    }
  };
}

function handlePatchFailure(
  failure: ApiFailure,
  job: Job<PatchRequest>,
  options: PatchProcessorOptions,
  logger: Logger,
  context: Record<string, string>,
): PatchJobResult {
  const object = `ExternalSecret ${job.data.namespace}/${job.data.name}`;

  if (failure.kind === ApiFailureKind.Gone) {
    options.metrics.patches.inc({ result: PatchResult.Gone });
    logger.info(
      { ...context, reason: failure.description },
      "ExternalSecret no longer exists; nothing to patch",
    );
    return { result: PatchResult.Gone };
  }

  if (failure.kind === ApiFailureKind.Permanent) {
    options.metrics.patches.inc({ result: PatchResult.Failed });
    logger.error(
      { ...context, reason: failure.description },
      "API server rejected the patch; not retrying",
    );
    throw new UnrecoverableError(
      `patch of ${object} rejected with ${failure.description}; not retried because the same request would fail again`,
    );
  }

  const attempts = job.opts.attempts ?? 1;
  const willRetry = job.attemptsMade + 1 < attempts;
  options.metrics.patches.inc({ result: willRetry ? PatchResult.Retried : PatchResult.Failed });

  const attempt = { attempt: job.attemptsMade + 1, attempts, retryAfterMs: failure.retryAfterMs };
  if (willRetry) {
    logger.warn(
      { ...context, ...attempt, reason: failure.description },
      "patch failed; retrying with backoff",
    );
  } else {
    logger.error(
      { ...context, ...attempt, reason: failure.description },
      "patch failed on its last attempt",
    );
  }

  throw new RetryablePatchError(
    `patch of ${object} failed on attempt ${job.attemptsMade + 1} of ${attempts}: ${failure.description}`,
    failure.retryAfterMs,
  );
}

function readPatchRequest(job: Job<PatchRequest>): PatchRequest {
  const data: Partial<Record<keyof PatchRequest, unknown>> = job.data ?? {};
  const event = data.event as Partial<Record<string, unknown>> | undefined;
  const valid =
    typeof data.namespace === "string" &&
    data.namespace !== "" &&
    typeof data.name === "string" &&
    data.name !== "" &&
    typeof event?.identifier === "string" &&
    typeof event.configName === "string" &&
    typeof event.sourceType === "string";

  if (!valid) {
    throw new UnrecoverableError(
      `invalid patch job ${job.id ?? ""}: expected data with non-empty namespace and name and an event with identifier, configName and sourceType`,
    );
  }

  return job.data;
}
