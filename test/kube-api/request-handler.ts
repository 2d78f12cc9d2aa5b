import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

import type { Logger } from "pino";

import { ApiError, methodNotAllowed, pathNotFound, reasonForCode } from "./api-status.js";
import { controlPathPrefix, handleControlRequest } from "./control-routes.js";
import { apiGroup, apiGroupList, apiResourceList, coreVersions, versionInfo } from "./discovery.js";
import type { ActiveFault, FaultInjector, FaultTarget } from "./fault-injector.js";
import { readBody, sendApiError, sendJson } from "./http-io.js";
import {
  openApiGroupVersion,
  openApiRoot,
  openApiV2Document,
  openApiV2MediaType,
} from "./openapi.js";
import type { ObjectStore } from "./object-store.js";
import { parseQueryOptions } from "./query-options.js";
import type { LoggedRequest, RequestLog } from "./request-log.js";
import { parseApiPath, verbOf, type ApiPath } from "./request-path.js";
import { handleResourceRequest } from "./resource-handler.js";
import type { ResourceRegistry } from "./resource-types.js";
import type { WatchHub } from "./watch-hub.js";

/** The state one server's requests act on. */
export interface ServerContext {
  registry: ResourceRegistry;
  store: ObjectStore;
  faults: FaultInjector;
  requests: RequestLog;
  watches: WatchHub;
  logger: Logger;
}

const trueValues = new Set(["1", "t", "T", "true", "TRUE", "True"]);

function faultTargetOf(method: string, url: URL, apiPath: ApiPath): FaultTarget {
  const target: FaultTarget = { method, path: url.pathname };
  if (apiPath.kind !== "resource") {
    return target;
  }

  const verb = verbOf(method, apiPath, trueValues.has(url.searchParams.get("watch") ?? ""));
  const resource =
    apiPath.subresource === undefined
      ? apiPath.type.plural
      : `${apiPath.type.plural}/${apiPath.subresource}`;
  Object.assign(target, { group: apiPath.type.group, resource, namespace: apiPath.namespace });
  if (verb !== undefined) {
    target.verb = verb;
  }
  if (apiPath.name !== undefined) {
    target.name = apiPath.name;
  }
  return target;
}

/** Applies a matched fault. Returns true when the fault sent the response, so the request must not be served normally. */
async function applyFault(
  fault: ActiveFault,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  if (fault.latencyMs !== undefined && fault.latencyMs > 0) {
    await sleep(fault.latencyMs);
  }
  if (fault.resetConnection === true) {
    req.socket.destroy();
    return true;
  }
  if (fault.status === undefined) {
    return false;
  }

  const details: Record<string, unknown> = {};
  const retryAfter =
    fault.retryAfterSeconds ?? (fault.status === 429 || fault.status === 503 ? 1 : undefined);
  if (retryAfter !== undefined) {
    details["retryAfterSeconds"] = retryAfter;
  }
  const message =
    fault.message ??
    `injected fault: the emulator returns ${fault.status} (fault rule ${fault.id})`;
  sendApiError(res, new ApiError(fault.status, reasonForCode(fault.status), message, details));
  return true;
}

function serveApi(
  context: ServerContext,
  method: string,
  url: URL,
  apiPath: ApiPath,
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
): void {
  const isDiscovery = apiPath.kind !== "resource" && apiPath.kind !== "unknown";
  if (isDiscovery && method !== "GET") {
    throw methodNotAllowed(method, url.pathname);
  }

  switch (apiPath.kind) {
    case "versions":
      sendJson(res, 200, coreVersions(req.headers.host ?? ""));
      return;
    case "groups":
      sendJson(res, 200, apiGroupList(context.registry));
      return;
    case "group":
      sendJson(res, 200, apiGroup(context.registry, apiPath.group));
      return;
    case "resourceList":
      sendJson(res, 200, apiResourceList(context.registry, apiPath.group, apiPath.version));
      return;
    case "resource": {
      const options = parseQueryOptions(url.searchParams, apiPath.type);
      const verb = verbOf(method, apiPath, options.watch);
      if (verb === undefined) {
        throw methodNotAllowed(method, url.pathname);
      }
      const request = {
        path: apiPath,
        verb,
        options,
        body,
        contentType: req.headers["content-type"],
      };
      handleResourceRequest(context.store, context.watches, request, res);
      return;
    }
    case "unknown":
      break;
  }

  serveOther(context, method, url, res);
}

function serveOther(context: ServerContext, method: string, url: URL, res: ServerResponse): void {
  const openApiPrefix = "/openapi/v3/";
  const openApiDocument = url.pathname.startsWith(openApiPrefix)
    ? openApiGroupVersion(context.registry, url.pathname.slice(openApiPrefix.length))
    : undefined;
  const fixedPaths = ["/version", "/healthz", "/livez", "/readyz", "/openapi/v2", "/openapi/v3"];
  if ((fixedPaths.includes(url.pathname) || openApiDocument !== undefined) && method !== "GET") {
    throw methodNotAllowed(method, url.pathname);
  }

  if (url.pathname === "/version") {
    sendJson(res, 200, versionInfo());
  } else if (["/healthz", "/livez", "/readyz"].includes(url.pathname)) {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("ok");
  } else if (url.pathname === "/openapi/v2") {
    const document = openApiV2Document();
    res.writeHead(200, { "Content-Type": openApiV2MediaType, "Content-Length": document.length });
    res.end(document);
  } else if (url.pathname === "/openapi/v3") {
    sendJson(res, 200, openApiRoot(context.registry));
  } else if (openApiDocument !== undefined) {
    sendJson(res, 200, openApiDocument);
  } else {
    throw pathNotFound();
  }
}

function logEntry(req: IncomingMessage, url: URL, body: Buffer): LoggedRequest {
  const entry: LoggedRequest = {
    method: req.method ?? "GET",
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    body: body.toString("utf8"),
    receivedAt: new Date().toISOString(),
  };
  if (req.headers["content-type"] !== undefined) {
    entry.contentType = req.headers["content-type"];
  }
  if (req.headers.accept !== undefined) {
    entry.accept = req.headers.accept;
  }
  return entry;
}

async function serve(
  context: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", "http://kube-api-emulator");
  const body = await readBody(req);

  if (url.pathname.startsWith(controlPathPrefix)) {
    handleControlRequest(context, method, url.pathname, body, res);
    return;
  }

  const entry = context.requests.record(logEntry(req, url, body));
  res.on("finish", () => {
    entry.status = res.statusCode;
  });

  const apiPath = parseApiPath(context.registry, url.pathname);
  const fault = context.faults.take(faultTargetOf(method, url, apiPath));
  if (fault !== undefined) {
    context.logger.info(
      {
        method,
        path: url.pathname,
        faultId: fault.id,
        status: fault.status,
        latencyMs: fault.latencyMs,
      },
      "applying injected fault",
    );
    if (await applyFault(fault, req, res)) {
      return;
    }
  }

  serveApi(context, method, url, apiPath, req, body, res);
  if (res.headersSent) {
    entry.status = res.statusCode;
  }
}

/** Builds the `node:http` request listener of a Kubernetes API emulator. */
export function createRequestHandler(
  context: ServerContext,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = Date.now();
    serve(context, req, res)
      .catch((error: unknown) => {
        if (res.headersSent) {
          context.logger.error(
            { err: error, method: req.method, url: req.url },
            "request failed after the response started; ending it",
          );
          res.end();
          return;
        }
        if (error instanceof ApiError) {
          context.logger.debug(
            {
              method: req.method,
              url: req.url,
              status: error.code,
              reason: error.reason,
              message: error.message,
            },
            "request rejected",
          );
          sendApiError(res, error);
          return;
        }
        context.logger.error(
          { err: error, method: req.method, url: req.url },
          "request failed with an unexpected error; returning 500",
        );
        sendApiError(
          res,
          new ApiError(
            500,
            "InternalError",
            `Internal error occurred: ${(error as Error).message}`,
          ),
        );
      })
      .finally(() => {
        context.logger.debug(
          {
            method: req.method,
            url: req.url,
            status: res.statusCode,
            durationMs: Date.now() - started,
          },
          "request served",
        );
      });
  };
}
