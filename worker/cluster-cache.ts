import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type V1Namespace,
} from "@kubernetes/client-node";

import type { ReloaderConfig } from "../shared/config-schema.js";
import type { Logger } from "../shared/logger.js";
import { matchesAnyDestination } from "./destination-filter.js";
import {
  EXTERNAL_SECRET_GROUP,
  EXTERNAL_SECRET_PLURAL,
  EXTERNAL_SECRET_VERSION,
  type ExternalSecretObject,
} from "./external-secret.js";
import { ReferenceIndex, type IndexedExternalSecret } from "./reference-index.js";
import { RestartingInformer } from "./restarting-informer.js";

/** Options of a {@link ClusterCache}. */
export interface ClusterCacheOptions {
  /** Credentials and address of the Kubernetes API server. */
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Delay before the first informer restart after an error, in ms; default 500. */
  readonly restartInitialDelayMs?: number;
  /** Maximum informer restart delay, in ms; default 30000. */
  readonly restartMaxDelayMs?: number;
  /**
   * Called with `true` when both informers are listing and watching, and with `false` when
   * either of them fails and waits to restart.
   */
  readonly onSyncStateChange?: (synced: boolean) => void;
}

/**
 * An in-memory copy of the cluster's ExternalSecrets (all namespaces) and Namespaces, kept
 * current by watches, with an index from secret identifiers to the ExternalSecrets that
 * reference them. Lookups read memory only and never call the API server.
 *
 * NOTE: client-node 1.4 sets no timeout on watch requests, so a connection that dies
 * without a FIN or RST is noticed only through TCP keepalive, and the cache can stay stale
 * for minutes meanwhile.
 */
export class ClusterCache {
  private readonly logger: Logger;
  private readonly index: ReferenceIndex;
  private readonly externalSecrets: RestartingInformer<ExternalSecretObject>;
  private readonly namespaces: RestartingInformer<V1Namespace>;
  private readonly closing = new AbortController();
  private closePromise: Promise<void> | undefined;

  constructor(options: ClusterCacheOptions) {
    this.logger = options.logger;
    this.index = new ReferenceIndex(options.logger);

    const customObjects = options.kubeConfig.makeApiClient(CustomObjectsApi);
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const shared = {
      kubeConfig: options.kubeConfig,
      logger: options.logger,
      restartInitialDelayMs: options.restartInitialDelayMs,
      restartMaxDelayMs: options.restartMaxDelayMs,
      onHealthChange: () => options.onSyncStateChange?.(this.isSynced),
    };

    this.externalSecrets = new RestartingInformer<ExternalSecretObject>({
      ...shared,
      resource: `${EXTERNAL_SECRET_PLURAL}.${EXTERNAL_SECRET_GROUP}/${EXTERNAL_SECRET_VERSION}`,
      path: `/apis/${EXTERNAL_SECRET_GROUP}/${EXTERNAL_SECRET_VERSION}/${EXTERNAL_SECRET_PLURAL}`,
      list: async () =>
        (await customObjects.listClusterCustomObject({
          group: EXTERNAL_SECRET_GROUP,
          version: EXTERNAL_SECRET_VERSION,
          plural: EXTERNAL_SECRET_PLURAL,
        })) as KubernetesListObject<ExternalSecretObject>,
    });

    this.namespaces = new RestartingInformer<V1Namespace>({
      ...shared,
      resource: "namespaces/v1",
      path: "/api/v1/namespaces",
      list: () => core.listNamespace(),
    });

    this.externalSecrets.informer.on("add", (object) => this.index.upsert(object));
    this.externalSecrets.informer.on("update", (object) => this.index.upsert(object));
    this.externalSecrets.informer.on("delete", (object) => this.index.remove(object));
  }

  /** Whether both informers have listed their resources and are watching them. */
  get isSynced(): boolean {
    return this.externalSecrets.isHealthy && this.namespaces.isHealthy;
  }

  /** Number of ExternalSecrets in the cache. */
  get externalSecretCount(): number {
    return this.index.size;
  }

  /** Starts listing and watching in the background; see {@link waitForSync}. */
  start(): void {
    this.externalSecrets.start();
    this.namespaces.start();
  }

  /**
   * Resolves once both informers have completed their initial list and opened a watch.
   * Failed attempts are retried in the background meanwhile.
   *
   * @param timeoutMs maximum wait in milliseconds.
   * @throws Error when the timeout passes first, naming the resources still missing, or
   *   when the cache is closed first.
   */
  async waitForSync(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;

    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.createSyncTimeoutError(timeoutMs)), timeoutMs);
    });
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(new Error("cluster cache was closed before its informers synced"));
      this.closing.signal.addEventListener("abort", onClose, { once: true });
    });

    try {
      const synced = Promise.all([
        this.externalSecrets.waitForSync(),
        this.namespaces.waitForSync(),
      ]);
      await Promise.race([synced, timedOut, closed]);
    } finally {
      clearTimeout(timer);
      if (onClose !== undefined) {
        this.closing.signal.removeEventListener("abort", onClose);
      }
    }
  }

  /**
   * Returns the ExternalSecrets that reference `identifier` and pass at least one
   * destination of `config`, sorted by namespace and name.
   */
  findTargets(config: ReloaderConfig, identifier: string): IndexedExternalSecret[] {
    const lookupNamespaceLabels = (namespace: string) => this.getNamespaceLabels(namespace);

    return this.index
      .findReferencing(identifier)
      .filter((candidate) =>
        matchesAnyDestination(config.destinations, candidate, lookupNamespaceLabels),
      );
  }

  /** Returns the labels of a namespace (`{}` when it has none), or `undefined` when it is not in the cache. */
  getNamespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    const namespace = this.namespaces.informer.get(name);
    if (namespace === undefined) {
      return undefined;
    }

    return namespace.metadata?.labels ?? {};
  }

  /** Stops both watches. Safe to call more than once; every call waits for the same shutdown. */
  close(): Promise<void> {
    this.closePromise ??= this.closeInformers();
    return this.closePromise;
  }

  private async closeInformers(): Promise<void> {
    this.closing.abort();

    const results = await Promise.allSettled([
      this.externalSecrets.close(),
      this.namespaces.close(),
    ]);
    for (const result of results) {
      if (result.status === "rejected") {
        this.logger.warn(
          { err: result.reason },
          "failed to stop an informer while closing the cluster cache",
        );
      }
    }
  }

  private createSyncTimeoutError(timeoutMs: number): Error {
    const missing: string[] = [];
    if (!this.externalSecrets.synced) {
      missing.push(`${EXTERNAL_SECRET_PLURAL}.${EXTERNAL_SECRET_GROUP}/${EXTERNAL_SECRET_VERSION}`);
    }
    if (!this.namespaces.synced) {
      missing.push("namespaces");
    }

    return new Error(
      `cluster cache did not sync within ${timeoutMs} ms: ${missing.join(" and ")} could not be listed and watched; ` +
        "check that the API server is reachable, that the External Secrets v1 CRD is installed, " +
        "and that the worker's service account may list and watch these resources (see the warnings logged before this error)",
    );
  }
}
