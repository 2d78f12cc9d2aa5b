import type { JobsOptions } from "bullmq";

/**
 * The hand-off between the tiers: queue names, job data and default job options. The
 * gateway adds rotation events. The worker resolves each event to its targets and adds one
 * patch job per target, so each ExternalSecret is retried on its own.
 */

/** Queue of rotation events, written by the gateway. */
export const ROTATION_QUEUE = "rotation-events";

/** Queue of annotation patches, one job per target ExternalSecret, written by the worker. */
export const PATCH_QUEUE = "annotation-patches";

/** Key prefix of every queue when `QUEUE_PREFIX` is unset. */
export const DEFAULT_QUEUE_PREFIX = "reloader";

/** One identifier read from one notification source. */
export interface RotationEvent {
  /** `metadata.name` of the Config whose source received the document. */
  readonly configName: string;
  /** Source type, such as `TCPSocket`. */
  readonly sourceType: string;
  /** Position of the source in `spec.notificationSources`. */
  readonly sourceIndex: number;
  /** The secret identifier read from the document. */
  readonly identifier: string;
  /** When the gateway read the document, as epoch milliseconds. */
  readonly receivedAt: number;
}

/** One ExternalSecret to annotate for one rotation event. */
export interface PatchRequest {
  readonly namespace: string;
  readonly name: string;
  readonly event: RotationEvent;
  /** BullMQ id of the rotation job, so logs tie a patch to its event. */
  readonly eventJobId: string;
}

/** Completed jobs are kept this long for the dashboard, then trimmed. */
export const COMPLETED_JOB_MAX_AGE_SECONDS = 3600;

/** At most this many completed jobs are kept per queue. */
export const COMPLETED_JOB_MAX_COUNT = 1000;

/** At most this many failed jobs are kept per queue for inspection. */
export const FAILED_JOB_MAX_COUNT = 50_000;

/** Default options of rotation jobs: retried when resolving targets fails. */
export const ROTATION_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: COMPLETED_JOB_MAX_AGE_SECONDS, count: COMPLETED_JOB_MAX_COUNT },
  removeOnFail: { count: FAILED_JOB_MAX_COUNT },
};

/**
 * Default options of patch jobs. Twelve attempts with a 500 ms exponential base cover about
 * 17 minutes of API server trouble before a patch lands in the failed set.
 */
export const PATCH_JOB_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: "exponential", delay: 500, jitter: 0.5 },
  removeOnComplete: { age: COMPLETED_JOB_MAX_AGE_SECONDS, count: COMPLETED_JOB_MAX_COUNT },
  removeOnFail: { count: FAILED_JOB_MAX_COUNT },
};
