import type { ServerResponse } from "node:http";

import { ApiError, badRequest, expired } from "./api-status.js";
import { matchesFields, type FieldRequirement } from "./field-selector.js";
import { matchesLabels, type LabelSelector } from "./label-selector.js";
import { namespaceOf, type KubeObject, type StoreEvent } from "./kube-object.js";
import type { ObjectStore } from "./object-store.js";
import { apiVersionOf, type ResourceType } from "./resource-types.js";

/** What one watch request selects and how it wants events delivered. */
export interface WatchRequest {
  type: ResourceType;
  /** Namespace to watch, or "" for all namespaces. */
  namespace: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldRequirement[];
  resourceVersion?: string;
  allowWatchBookmarks: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
}

/** A line of a watch response. */
interface WatchEventLine {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: unknown;
}

/** Annotation on the bookmark that ends the initial events of a `sendInitialEvents=true` watch. */
const initialEventsEndAnnotation = "k8s.io/initial-events-end";

function matches(request: WatchRequest, object: KubeObject): boolean {
  if (request.namespace !== "" && namespaceOf(object) !== request.namespace) {
    return false;
  }
  return (
    matchesLabels(request.labelSelector, object.metadata.labels) &&
    matchesFields(request.fieldSelector, object)
  );
}

/**
 * Converts a store event into what this watch sends. As in the API server, an update that moves an
 * object into the selection is sent as ADDED and one that moves it out as DELETED.
 */
function eventFor(request: WatchRequest, event: StoreEvent): WatchEventLine | undefined {
  if (event.resource !== request.type) {
    return undefined;
  }

  const selectedNow = matches(request, event.object);
  if (event.type !== "MODIFIED" || event.previous === undefined) {
    return selectedNow ? { type: event.type, object: event.object } : undefined;
  }

  const selectedBefore = matches(request, event.previous);
  if (selectedNow) {
    return { type: selectedBefore ? "MODIFIED" : "ADDED", object: event.object };
  }
  return selectedBefore ? { type: "DELETED", object: event.object } : undefined;
}

/**
 * The open watch responses of one server. Each streams newline-delimited JSON events over a
 * chunked response until the client disconnects, `timeoutSeconds` passes or closeAll() runs.
 */
export class WatchHub {
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: number,
  ) {}

  /** The number of watch responses now open. */
  get openCount(): number {
    return this.closers.size;
  }

  /** Ends every open watch response normally, as an API server does on restart. Returns how many it ended. */
  closeAll(): number {
    const closers = [...this.closers];
    for (const close of closers) {
      close();
    }
    return closers.length;
  }

  /**
   * Starts streaming a watch. Throws ApiError for invalid parameters before anything is written.
   * A resourceVersion older than the retained history gets, as from the API server, a 200
   * response with one ERROR event that carries a 410 Expired Status.
   */
  open(request: WatchRequest, res: ServerResponse): void {
    const initialEvents = this.initialEventsFlag(request);
    const startRevision = this.startRevision(request, initialEvents);
    const replay = initialEvents ? [] : this.store.history.since(startRevision);

    res.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
    });
    res.flushHeaders();
    const send = (line: WatchEventLine): void => {
      res.write(`${JSON.stringify(line)}\n`);
    };

    if (replay === undefined) {
      const oldest = this.store.history.compactedResourceVersion + 1;
      const status = expired(`too old resource version: ${startRevision} (${oldest})`).toStatus();
      send({ type: "ERROR", object: status });
      res.end();
      return;
    }

    const unsubscribe = this.store.subscribe((event) => {
      const line = eventFor(request, event);
      if (line !== undefined) {
        send(line);
      }
    });

    if (initialEvents) {
      this.sendInitialEvents(request, send);
    }
    for (const event of replay) {
      const line = eventFor(request, event);
      if (line !== undefined) {
        send(line);
      }
    }

    this.keepOpen(request, res, send, unsubscribe);
  }

  private initialEventsFlag(request: WatchRequest): boolean {
    if (request.sendInitialEvents === true && !request.allowWatchBookmarks) {
      throw new ApiError(
        422,
        "Invalid",
        "sendInitialEvents requires setting allowWatchBookmarks to true",
      );
    }
    if (request.sendInitialEvents !== undefined) {
      return request.sendInitialEvents;
    }
    // A watch with no resourceVersion, or "0", starts with synthetic ADDED events for the current objects.
    return (
      request.resourceVersion === undefined ||
      request.resourceVersion === "" ||
      request.resourceVersion === "0"
    );
  }

  private startRevision(request: WatchRequest, initialEvents: boolean): number {
    const value = request.resourceVersion;
    if (initialEvents || value === undefined || value === "" || value === "0") {
      return Number(this.store.resourceVersion);
    }
    if (!/^\d+$/.test(value)) {
      throw badRequest(
        `invalid resourceVersion "${value}": must be a resourceVersion returned by this server`,
      );
    }
    return Number(value);
  }

  private sendInitialEvents(request: WatchRequest, send: (line: WatchEventLine) => void): void {
    for (const object of this.store.list(request.type, request.namespace)) {
      if (matches(request, object)) {
        send({ type: "ADDED", object });
      }
    }
    if (request.sendInitialEvents === true) {
      const metadata = {
        resourceVersion: this.store.resourceVersion,
        annotations: { [initialEventsEndAnnotation]: "true" },
      };
      send({
        type: "BOOKMARK",
        object: { kind: request.type.kind, apiVersion: apiVersionOf(request.type), metadata },
      });
    }
  }

  private keepOpen(
    request: WatchRequest,
    res: ServerResponse,
    send: (line: WatchEventLine) => void,
    unsubscribe: () => void,
  ): void {
    const sendBookmark = (): void => {
      const object = {
        kind: request.type.kind,
        apiVersion: apiVersionOf(request.type),
        metadata: { resourceVersion: this.store.resourceVersion },
      };
      send({ type: "BOOKMARK", object });
    };
    const bookmarkTimer = request.allowWatchBookmarks
      ? setInterval(sendBookmark, this.bookmarkIntervalMs)
      : undefined;

    let closed = false;
    const close = (): void => {
      if (closed) {
        return;
      }
      closed = true;
      unsubscribe();
      clearInterval(bookmarkTimer);
      clearTimeout(timeoutTimer);
      this.closers.delete(close);
      if (!res.writableEnded) {
        res.end();
      }
    };

    const timeoutMs =
      request.timeoutSeconds === undefined || request.timeoutSeconds === 0
        ? undefined
        : request.timeoutSeconds * 1000;
    const timeoutTimer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            // The API server sends a last bookmark before a watch times out, so clients resume from it.
            if (request.allowWatchBookmarks) {
              sendBookmark();
            }
            close();
          }, timeoutMs);

    this.closers.add(close);
    // 'close' on the response fires when the client disconnects as well as after res.end().
    res.on("close", close);
  }
}
