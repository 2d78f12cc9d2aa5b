import {
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  type ObjectCache,
} from "@kubernetes/client-node";

import type { Logger } from "../shared/logger.js";
import { classifyApiError } from "./api-errors.js";

/** Delay before the first restart of a failed informer, in milliseconds. */
export const DEFAULT_RESTART_INITIAL_DELAY_MS = 500;

/** Upper bound of the restart delay, in milliseconds. */
export const DEFAULT_RESTART_MAX_DELAY_MS = 30_000;

/** Options of a {@link RestartingInformer}. */
export interface RestartingInformerOptions<T extends KubernetesObject> {
  /** Resource name for logs and errors, such as `externalsecrets.external-secrets.io`. */
  readonly resource: string;
  readonly kubeConfig: KubeConfig;
  /** Collection path to watch, such as `/api/v1/namespaces`. */
  readonly path: string;
  /** Lists the whole collection; called at start and whenever the watch must relist. */
  readonly list: ListPromise<T>;
  readonly logger: Logger;
  /** Delay before the first restart after an error, in ms; default {@link DEFAULT_RESTART_INITIAL_DELAY_MS}. */
  readonly restartInitialDelayMs?: number;
  /** Maximum restart delay in ms, reached by doubling; default {@link DEFAULT_RESTART_MAX_DELAY_MS}. */
  readonly restartMaxDelayMs?: number;
  /** Called with `true` when the informer has listed and is watching, `false` after an error. */
  readonly onHealthChange?: (healthy: boolean) => void;
}

/**
 * A client-node informer (list, then watch) that restarts itself after errors.
 *
 * The client-node 1.4 informer relists by itself after `410 Gone` and re-watches after the
 * server closes a watch. After any other error (list failure, refused connection, reset
 * stream) it emits `error` and stops, so this class calls `start()` again after an
 * exponential backoff and logs each failure at warn.
 */
export class RestartingInformer<T extends KubernetesObject> {
  /** The wrapped informer. Register `add`, `update` and `delete` handlers before {@link start}. */
  readonly informer: Informer<T> & ObjectCache<T>;

  private readonly options: RestartingInformerOptions<T>;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly syncedPromise: Promise<void>;
  private resolveSynced: () => void = () => {};
  private restartTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private errorDuringRun = false;
  private healthy = false;
  private syncedFlag = false;
  private started = false;
  private closed = false;

  constructor(options: RestartingInformerOptions<T>) {
    this.options = options;
    this.initialDelayMs = options.restartInitialDelayMs ?? DEFAULT_RESTART_INITIAL_DELAY_MS;
    this.maxDelayMs = options.restartMaxDelayMs ?? DEFAULT_RESTART_MAX_DELAY_MS;
    this.informer = makeInformer(options.kubeConfig, options.path, options.list);
    this.informer.on("error", (error: unknown) => this.handleError(error));
    this.syncedPromise = new Promise((resolve) => {
      this.resolveSynced = resolve;
    });
  }

  /** Whether the initial list has completed and a watch was opened at least once. */
  get synced(): boolean {
    return this.syncedFlag;
  }

  /** Whether the last start succeeded and no error has arrived since. */
  get isHealthy(): boolean {
    return this.healthy;
  }

  /** Starts listing and watching in the background; later calls do nothing. */
  start(): void {
    if (this.started || this.closed) {
      return;
    }

    this.started = true;
    void this.run();
  }

  /** Resolves once the initial list has completed and the first watch is open. Never rejects. */
  waitForSync(): Promise<void> {
    return this.syncedPromise;
  }

  /** Stops the watch and cancels a pending restart. Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.setHealthy(false);
    await this.informer.stop();
  }

  private async run(): Promise<void> {
    this.errorDuringRun = false;

    try {
      await this.informer.start();
    } catch (error) {
      this.handleError(error);
      return;
    }

    if (this.closed || this.errorDuringRun) {
      return;
    }

    if (this.consecutiveFailures > 0) {
      this.options.logger.info(
        { resource: this.options.resource, failures: this.consecutiveFailures },
        "informer restarted and is watching again",
      );
    }

    this.consecutiveFailures = 0;
    this.setHealthy(true);

    if (!this.syncedFlag) {
      this.syncedFlag = true;
      this.options.logger.info(
        { resource: this.options.resource, objects: this.informer.list().length },
        "informer synced",
      );
      this.resolveSynced();
    }
  }

  private handleError(error: unknown): void {
    // Stopping the informer aborts its watch request, which arrives here as an error.
    if (this.closed) {
      return;
    }

    this.errorDuringRun = true;
    this.setHealthy(false);
    if (this.restartTimer !== undefined) {
      return;
    }

    const delayMs = Math.min(this.initialDelayMs * 2 ** this.consecutiveFailures, this.maxDelayMs);
    this.consecutiveFailures += 1;
    this.options.logger.warn(
      {
        resource: this.options.resource,
        failures: this.consecutiveFailures,
        retryInMs: delayMs,
        reason: classifyApiError(error).description,
      },
      "informer list or watch failed; restarting it after a delay",
    );

    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.run();
    }, delayMs);
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy !== healthy) {
      this.healthy = healthy;
      this.options.onHealthChange?.(healthy);
    }
  }
}
