import {
  ApiException,
  CoreV1Api,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
} from "@kubernetes/client-node";
import { createTimeoutMiddleware, isRequestTimeout } from "../shared/api-timeout.js";
import type { SecretKeySelector } from "../shared/config-schema.js";
import {
  describeSecretKey,
  WebhookCredentialsError,
  type SecretKeyReader,
} from "./secret-key-reader.js";

/** Maximum wait for the API response to one Secret read, in ms. */
export const SECRET_READ_TIMEOUT_MS = 10_000;

/** Namespace of Secret references without one when the kubeconfig context names none. */
export const FALLBACK_SECRET_NAMESPACE = "default";

/**
 * Reads Secret keys through the Kubernetes API with `get` on each referenced Secret, so the
 * gateway's service account needs `get` on those Secrets and nothing else (a Role with
 * `resourceNames` can grant exactly that). A reference without a namespace reads from
 * `namespace`: the kubeconfig context's, which is the pod's own namespace in a cluster.
 */
export class KubernetesSecrets implements SecretKeyReader {
  readonly kind = "kubernetes";
  readonly namespace: string;
  private readonly api: CoreV1Api;
  private readonly timeoutMs: number;
  private readonly requestOptions: ConfigurationOptions<ObservableMiddleware>;

  /**
   * `namespace` overrides the context's; `timeoutMs` (default `SECRET_READ_TIMEOUT_MS`) bounds
   * each read.
   */
  constructor(kubeConfig: KubeConfig, options: { namespace?: string; timeoutMs?: number } = {}) {
    const { namespace } = options;
    this.timeoutMs = options.timeoutMs ?? SECRET_READ_TIMEOUT_MS;
    this.api = kubeConfig.makeApiClient(CoreV1Api);
    this.requestOptions = {
      middleware: [createTimeoutMiddleware(this.timeoutMs)],
      middlewareMergeStrategy: "append",
    };
    this.namespace =
      namespace ??
      kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ??
      FALLBACK_SECRET_NAMESPACE;
  }

  async read(selector: SecretKeySelector): Promise<Buffer> {
    const namespace = selector.namespace ?? this.namespace;
    const secret = `${namespace}/${selector.name}`;
    const reference = describeSecretKey(selector, this.namespace);

    let data: Record<string, string> | undefined;
    try {
      const object = await this.api.readNamespacedSecret(
        { name: selector.name, namespace },
        this.requestOptions,
      );
      data = object.data;
    } catch (error) {
      // The explanation names the status or the timeout, so the client's own message,
      // which dumps the response body and headers, is left out.
      throw new WebhookCredentialsError(
        `cannot read ${reference}: ${explainFailure(error, secret, this.timeoutMs)}`,
      );
    }

    const encoded = data?.[selector.key];
    if (encoded === undefined) {
      const keys = Object.keys(data ?? {});
      throw new WebhookCredentialsError(
        `Secret ${secret} has no key ${JSON.stringify(selector.key)} ` +
          `(its keys: ${keys.length === 0 ? "none" : keys.join(", ")}); ` +
          "add the key or fix the reference in webhookAuth",
      );
    }
    const value = Buffer.from(encoded, "base64");
    if (value.length === 0) {
      throw new WebhookCredentialsError(`${reference} is empty; store the credential`);
    }
    return value;
  }
}

function explainFailure(error: unknown, secret: string, timeoutMs: number): string {
  if (isRequestTimeout(error)) {
    return `no answer within ${timeoutMs} ms; check that the Kubernetes API is reachable`;
  }
  if (!(error instanceof ApiException)) {
    return `${(error as Error).message}; check that the Kubernetes API is reachable`;
  }
  const status = (error as ApiException<unknown>).code;
  switch (status) {
    case 404:
      return `Secret ${secret} not found (HTTP 404); create it or fix the reference in webhookAuth`;
    case 401:
    case 403:
      return (
        `the gateway may not get Secret ${secret} (HTTP ${status}); grant its service ` +
        `account "get" on that Secret, or use --webhook-credentials files`
      );
    default:
      return `HTTP ${status} from the Kubernetes API; retry, or check the API server`;
  }
}
