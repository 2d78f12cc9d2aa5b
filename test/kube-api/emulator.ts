import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import type { KubeConfig } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";

import { FaultInjector } from "./fault-injector.js";
import { loadFixtureFile } from "./fixture-loader.js";
import { buildKubeConfig, writeKubeconfig } from "./kubeconfig.js";
import { defaultHistoryLimit, ObjectStore } from "./object-store.js";
import { createRequestHandler } from "./request-handler.js";
import { defaultRequestLogLimit, RequestLog } from "./request-log.js";
import { defaultResourceTypes, ResourceRegistry, type ResourceType } from "./resource-types.js";
import { WatchHub } from "./watch-hub.js";

/** Options of startKubeApiEmulator(). Every field is optional. */
export interface KubeApiEmulatorOptions {
  /** TCP port. 0, the default, picks a free port. */
  port?: number;
  /** Address to bind, 127.0.0.1 by default. */
  host?: string;
  /** Multi-document YAML files to load, in order, before the server accepts requests. */
  load?: string[];
  /** Number of events kept for watches to resume from, 1000 by default. */
  historyLimit?: number;
  /** Interval between BOOKMARK events on watches that allow them, in milliseconds, 60000 by default. */
  bookmarkIntervalMs?: number;
  /** Resources to serve in addition to Namespaces, ConfigMaps, Secrets and ExternalSecrets. */
  resourceTypes?: ResourceType[];
  /** Number of requests the request log keeps, 10000 by default. */
  requestLogLimit?: number;
  /** Logger for starts, stops, injected faults and unexpected errors, silent by default. */
  logger?: Logger;
}

/** A running emulator and the handles tests use to inspect and steer it. */
export interface KubeApiEmulator {
  /** Base URL, e.g. `http://127.0.0.1:38123`. */
  url: string;
  host: string;
  port: number;
  registry: ResourceRegistry;
  store: ObjectStore;
  faults: FaultInjector;
  requests: RequestLog;
  /** Ends every open watch response normally, so clients reconnect. Returns how many were open. */
  closeWatches(): number;
  /** Drops the watch history, so a watch from any earlier resourceVersion gets 410. Returns the current resourceVersion. */
  compact(): string;
  /** Builds a client-node KubeConfig for this emulator, with `namespace` as the context's default namespace. */
  kubeConfig(namespace?: string): KubeConfig;
  /** Writes a kubeconfig file for this emulator, for kubectl or for KubeConfig.loadFromFile(). */
  writeKubeconfig(path: string, namespace?: string): Promise<void>;
  /** Ends the watches, closes every connection and stops listening. Safe to call more than once. */
  close(): Promise<void>;
}

function urlOf(host: string, port: number): string {
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return `http://${hostPart}:${port}`;
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Starts a Kubernetes API emulator over plain HTTP, after loading the given YAML files.
 * Rejects when a file cannot be loaded or the port cannot be bound, and then nothing is left listening.
 */
export async function startKubeApiEmulator(
  options: KubeApiEmulatorOptions = {},
): Promise<KubeApiEmulator> {
  const host = options.host ?? "127.0.0.1";
  const logger = options.logger ?? pino({ level: "silent" });
  const registry = new ResourceRegistry([
    ...defaultResourceTypes,
    ...(options.resourceTypes ?? []),
  ]);
  const store = new ObjectStore(registry, options.historyLimit ?? defaultHistoryLimit);
  const faults = new FaultInjector();
  const requests = new RequestLog(options.requestLogLimit ?? defaultRequestLogLimit);
  const watches = new WatchHub(store, options.bookmarkIntervalMs ?? 60_000);

  for (const file of options.load ?? []) {
    const loaded = await loadFixtureFile(store, file);
    logger.info({ file, objects: loaded.length }, "loaded fixture file");
  }

  const server = createServer(
    createRequestHandler({ registry, store, faults, requests, watches, logger }),
  );
  const port = await listen(server, options.port ?? 0, host);
  const url = urlOf(host, port);
  logger.info({ url }, "kube-api emulator started");

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const closedWatches = watches.closeAll();
      server.close(() => {
        logger.info({ url, closedWatches }, "kube-api emulator stopped");
        resolve();
      });
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url,
    host,
    port,
    registry,
    store,
    faults,
    requests,
    closeWatches: () => watches.closeAll(),
    compact: () => String(store.compact()),
    kubeConfig: (namespace) => buildKubeConfig(url, namespace),
    writeKubeconfig: (path, namespace) => writeKubeconfig(path, url, namespace),
    close,
  };
}
