import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
} from "@kubernetes/client-node";

import { createTimeoutMiddleware } from "../shared/api-timeout.js";
import type { RotationEvent } from "../shared/queue-contract.js";
import {
  EXTERNAL_SECRET_GROUP,
  EXTERNAL_SECRET_PLURAL,
  EXTERNAL_SECRET_VERSION,
  type ObjectRef,
} from "./external-secret.js";
import { MonotonicClock } from "./rotation-clock.js";

/** Annotation with the time of the rotation, different for every patch the process sends. */
export const LAST_ROTATED_ANNOTATION = "reloader/last-rotated";

/** Annotation naming the source, Config and identifier that caused the patch. */
export const TRIGGER_SOURCE_ANNOTATION = "reloader/trigger-source";

/** `fieldManager` sent with every patch, so managed fields show who wrote the annotations. */
export const DEFAULT_FIELD_MANAGER = "secret-rotation-gateway";

/**
 * Content type of the patch. A JSON merge patch (RFC 7386) sets the two annotations and
 * leaves every other field alone. client-node 1.4 sends `application/json-patch+json`
 * unless a request overrides the header.
 */
export const ROTATION_PATCH_CONTENT_TYPE = PatchStrategy.MergePatch;

/** Time limit of one patch request, in milliseconds, when none is configured. */
export const DEFAULT_PATCH_TIMEOUT_MS = 10_000;

/** The merge patch sent to an ExternalSecret. */
export interface RotationPatch {
  readonly metadata: {
    readonly annotations: {
      readonly [LAST_ROTATED_ANNOTATION]: string;
      readonly [TRIGGER_SOURCE_ANNOTATION]: string;
    };
  };
}

/** Options of an {@link AnnotationPatcher}. */
export interface AnnotationPatcherOptions {
  /** Credentials and address of the Kubernetes API server. */
  readonly kubeConfig: KubeConfig;
  /** `fieldManager` query parameter; default {@link DEFAULT_FIELD_MANAGER}. */
  readonly fieldManager?: string;
  /** Time limit of one request in ms, after which it fails as a network error; default {@link DEFAULT_PATCH_TIMEOUT_MS}. */
  readonly requestTimeoutMs?: number;
  /** Source of `reloader/last-rotated` values; default a new {@link MonotonicClock}. */
  readonly clock?: MonotonicClock;
}

/**
 * Formats the `reloader/trigger-source` value: `<sourceType>/<configName>: <identifier>`,
 * for example `TCPSocket/tcp-default: app/db-password`.
 */
export function formatTriggerSource(event: RotationEvent): string {
  const { identifier } = event;
  const shown =
    identifier.length > MAX_TRIGGER_IDENTIFIER_LENGTH
      ? `${identifier.slice(0, MAX_TRIGGER_IDENTIFIER_LENGTH)}... (${identifier.length} characters)`
      : identifier;
  return `${event.sourceType}/${event.configName}: ${shown}`;
}

/**
 * Maximum length of an identifier written whole into `reloader/trigger-source`. Kubernetes caps all
 * annotations of an object at 256 KiB together, so a huge identifier must not make the
 * patch invalid.
 */
export const MAX_TRIGGER_IDENTIFIER_LENGTH = 512;

/** Builds the merge patch that sets both rotation annotations. */
export function buildRotationPatch(event: RotationEvent, lastRotated: string): RotationPatch {
  return {
    metadata: {
      annotations: {
        [LAST_ROTATED_ANNOTATION]: lastRotated,
        [TRIGGER_SOURCE_ANNOTATION]: formatTriggerSource(event),
      },
    },
  };
}

/**
 * Sends the rotation annotations to ExternalSecrets with a JSON merge patch. A changed
 * annotation makes External Secrets Operator reconcile the object, and so refresh its
 * Secret, at once instead of at the next `refreshInterval`.
 */
export class AnnotationPatcher {
  private readonly api: CustomObjectsApi;
  private readonly fieldManager: string;
  private readonly clock: MonotonicClock;
  private readonly requestOptions: ConfigurationOptions<ObservableMiddleware>;

  constructor(options: AnnotationPatcherOptions) {
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.fieldManager = options.fieldManager ?? DEFAULT_FIELD_MANAGER;
    this.clock = options.clock ?? new MonotonicClock();

    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_PATCH_TIMEOUT_MS;
    this.requestOptions = setHeaderOptions("Content-Type", ROTATION_PATCH_CONTENT_TYPE, {
      middleware: [createTimeoutMiddleware(timeoutMs)],
      middlewareMergeStrategy: "append",
    });
  }

  /**
   * Patches one ExternalSecret and returns the patch sent.
   *
   * @throws the client-node error unchanged (`ApiException` for an HTTP error status,
   *   `FetchError` or `AbortError` when no response arrived); see `classifyApiError`.
   */
  async patch(target: ObjectRef, event: RotationEvent): Promise<RotationPatch> {
    const body = buildRotationPatch(event, this.clock.nowRfc3339());

    await this.api.patchNamespacedCustomObject(
      {
        group: EXTERNAL_SECRET_GROUP,
        version: EXTERNAL_SECRET_VERSION,
        plural: EXTERNAL_SECRET_PLURAL,
        namespace: target.namespace,
        name: target.name,
        body,
        fieldManager: this.fieldManager,
      },
      this.requestOptions,
    );

    return body;
  }
}
