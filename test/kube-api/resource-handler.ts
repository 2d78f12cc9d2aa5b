import type { ServerResponse } from "node:http";

import { badRequest } from "./api-status.js";
import { matchesFields } from "./field-selector.js";
import { sendJson } from "./http-io.js";
import { isJsonObject } from "./json-value.js";
import type { KubeObject } from "./kube-object.js";
import { matchesLabels } from "./label-selector.js";
import { paginate } from "./list-page.js";
import type { DeletePreconditions, ObjectStore } from "./object-store.js";
import type { QueryOptions } from "./query-options.js";
import { applyPatchBody, decodeObjectBody } from "./request-body.js";
import type { ResourcePath, Verb } from "./request-path.js";
import { apiVersionOf } from "./resource-types.js";
import type { WatchHub } from "./watch-hub.js";

/** Everything a handler needs to serve one resource request. */
export interface ResourceRequest {
  path: ResourcePath;
  verb: Verb;
  options: QueryOptions;
  body: Buffer;
  contentType: string | undefined;
}

function selectObjects(store: ObjectStore, request: ResourceRequest): KubeObject[] {
  const { path, options } = request;
  return store
    .list(path.type, path.namespace)
    .filter(
      (object) =>
        matchesLabels(options.labelSelector, object.metadata.labels) &&
        matchesFields(options.fieldSelector, object),
    );
}

function listBody(store: ObjectStore, request: ResourceRequest): Record<string, unknown> {
  const { type } = request.path;
  const page = paginate(
    selectObjects(store, request),
    request.options,
    Number(store.resourceVersion),
    store.history.compactedResourceVersion,
  );

  const metadata: Record<string, unknown> = { resourceVersion: page.resourceVersion };
  if (page.continueToken !== undefined) {
    metadata["continue"] = page.continueToken;
    metadata["remainingItemCount"] = page.remainingItemCount;
  }
  return { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata, items: page.items };
}

function parseDeleteOptions(body: Buffer): {
  preconditions?: DeletePreconditions;
  dryRun: boolean;
} {
  if (body.length === 0) {
    return { dryRun: false };
  }

  let options: unknown;
  try {
    options = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw badRequest(`the DeleteOptions body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isJsonObject(options)) {
    throw badRequest("the DeleteOptions body must be a JSON object");
  }

  const dryRun = Array.isArray(options["dryRun"]) && options["dryRun"].includes("All");
  const preconditions = options["preconditions"];
  if (!isJsonObject(preconditions)) {
    return { dryRun };
  }
  const result: DeletePreconditions = {};
  if (typeof preconditions["uid"] === "string") {
    result.uid = preconditions["uid"];
  }
  if (typeof preconditions["resourceVersion"] === "string") {
    result.resourceVersion = preconditions["resourceVersion"];
  }
  return { preconditions: result, dryRun };
}

function deleteOne(store: ObjectStore, request: ResourceRequest, res: ServerResponse): void {
  const { path } = request;
  const deleteOptions = parseDeleteOptions(request.body);
  const dryRun = deleteOptions.dryRun || request.options.dryRun;
  const preconditions = deleteOptions.preconditions;
  const options = preconditions === undefined ? { dryRun } : { dryRun, preconditions };
  const deleted = store.delete(path.type, path.namespace, path.name ?? "", options);

  // An object with finalizers stays until they are removed. Its delete then returns 202, as from the API server.
  const heldByFinalizers =
    deleted.metadata.deletionTimestamp !== undefined &&
    store.get(path.type, path.namespace, path.name ?? "") !== undefined;
  sendJson(res, heldByFinalizers ? 202 : 200, deleted, {}, request.options.pretty);
}

function deleteCollection(store: ObjectStore, request: ResourceRequest, res: ServerResponse): void {
  const { type } = request.path;
  const dryRun = request.options.dryRun || parseDeleteOptions(request.body).dryRun;
  const deleted = selectObjects(store, request).map((object) =>
    store.delete(type, object.metadata.namespace ?? "", object.metadata.name, { dryRun }),
  );
  const body = {
    kind: `${type.kind}List`,
    apiVersion: apiVersionOf(type),
    metadata: { resourceVersion: store.resourceVersion },
    items: deleted,
  };
  sendJson(res, 200, body, {}, request.options.pretty);
}

/**
 * Serves one request to a resource, a collection or a status subresource, writing the response.
 * Throws ApiError for every failure the API server reports with a Status.
 */
export function handleResourceRequest(
  store: ObjectStore,
  watches: WatchHub,
  request: ResourceRequest,
  res: ServerResponse,
): void {
  const { path, options } = request;
  const name = path.name ?? "";
  const subresource = path.subresource === undefined ? {} : { subresource: path.subresource };

  switch (request.verb) {
    case "get":
      sendJson(res, 200, store.mustGet(path.type, path.namespace, name), {}, options.pretty);
      return;
    case "list":
      sendJson(res, 200, listBody(store, request), {}, options.pretty);
      return;
    case "watch": {
      // A watch on one object's URL is a watch of the collection restricted to that name.
      const nameRequirement = { field: "metadata.name", operator: "equals" as const, value: name };
      const fieldSelector =
        path.name === undefined
          ? options.fieldSelector
          : [...options.fieldSelector, nameRequirement];
      watches.open({ ...options, type: path.type, namespace: path.namespace, fieldSelector }, res);
      return;
    }
    case "create": {
      const created = store.create(
        path.type,
        path.namespace,
        decodeObjectBody(request.body, request.contentType),
        { dryRun: options.dryRun },
      );
      sendJson(res, 201, created, {}, options.pretty);
      return;
    }
    case "update": {
      const body = decodeObjectBody(request.body, request.contentType);
      const updated = store.replace(path.type, path.namespace, name, body, {
        dryRun: options.dryRun,
        ...subresource,
      });
      sendJson(res, 200, updated, {}, options.pretty);
      return;
    }
    case "patch": {
      const existing = store.mustGet(path.type, path.namespace, name);
      const patched = applyPatchBody(path.type, existing, request.body, request.contentType);
      const updated = store.replace(path.type, path.namespace, name, patched, {
        dryRun: options.dryRun,
        ...subresource,
      });
      sendJson(res, 200, updated, {}, options.pretty);
      return;
    }
    case "delete":
      deleteOne(store, request, res);
      return;
    case "deletecollection":
      deleteCollection(store, request, res);
      return;
  }
}
