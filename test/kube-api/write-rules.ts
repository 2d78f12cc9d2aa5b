import { randomUUID } from "node:crypto";

import { badRequest, conflict, invalid, staleObjectCause } from "./api-status.js";
import { cloneJson, isJsonObject, jsonEqual, type JsonObject } from "./json-value.js";
import { kubeTimestamp, type KubeObject } from "./kube-object.js";
import { metadataCauses } from "./object-validation.js";
import { apiVersionOf, type ResourceType } from "./resource-types.js";
import { applyTypeDefaults } from "./type-defaults.js";

/** Where a write came from, which decides which parts of the object it may change. */
export interface WriteTarget {
  /** Namespace from the URL, or "" for cluster-scoped resources. */
  namespace: string;
  /** `status` for writes to the status subresource. */
  subresource?: string;
}

const generateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

function randomSuffix(): string {
  let suffix = "";
  for (let index = 0; index < 5; index += 1) {
    suffix += generateNameAlphabet.charAt(Math.floor(Math.random() * generateNameAlphabet.length));
  }
  return suffix;
}

/** Checks that a request body is an object of this resource's apiVersion and kind, and returns it. */
function decodeBody(type: ResourceType, body: unknown): KubeObject {
  if (!isJsonObject(body)) {
    throw badRequest(
      `the request body must be a JSON object of kind ${type.kind}, got ${Array.isArray(body) ? "an array" : typeof body}`,
    );
  }

  const expectedApiVersion = apiVersionOf(type);
  if (body["kind"] !== undefined && body["kind"] !== type.kind) {
    throw badRequest(
      `the kind in the body (${String(body["kind"])}) does not match the kind of the URL (${type.kind})`,
    );
  }
  if (body["apiVersion"] !== undefined && body["apiVersion"] !== expectedApiVersion) {
    throw badRequest(
      `the API version in the data (${String(body["apiVersion"])}) does not match the expected API version (${expectedApiVersion})`,
    );
  }
  if (body["metadata"] !== undefined && !isJsonObject(body["metadata"])) {
    throw badRequest("metadata must be a JSON object");
  }

  const object = cloneJson(body) as KubeObject;
  object.apiVersion = expectedApiVersion;
  object.kind = type.kind;
  object.metadata = (object.metadata ?? {}) as KubeObject["metadata"];
  return object;
}

function applyNamespace(type: ResourceType, object: KubeObject, namespace: string): void {
  if (!type.namespaced) {
    delete object.metadata.namespace;
    return;
  }

  const bodyNamespace = object.metadata.namespace;
  if (bodyNamespace !== undefined && bodyNamespace !== "" && bodyNamespace !== namespace) {
    throw badRequest(
      `the namespace of the provided object (${bodyNamespace}) does not match the namespace sent on the request (${namespace})`,
    );
  }
  object.metadata.namespace = namespace;
}

function validate(type: ResourceType, object: KubeObject): void {
  const causes = metadataCauses(object.metadata, type.nameRule);
  if (causes.length > 0) {
    throw invalid(type, String(object.metadata.name ?? ""), causes);
  }
}

/** Returns everything except metadata and status: the part whose changes bump `metadata.generation`. */
function specPart(object: KubeObject): JsonObject {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return rest;
}

/**
 * Builds the object a create stores: checks the body, fills the name from `generateName`, sets the
 * namespace, uid, creationTimestamp and generation, drops `.status` for resources with a status
 * subresource unless `keepStatus` is set, and validates the metadata.
 */
export function prepareCreate(
  type: ResourceType,
  body: unknown,
  target: WriteTarget,
  keepStatus: boolean,
): KubeObject {
  const object = decodeBody(type, body);
  const metadata = object.metadata;

  const generateName = metadata["generateName"];
  if (
    (metadata.name === undefined || metadata.name === "") &&
    typeof generateName === "string" &&
    generateName !== ""
  ) {
    metadata.name = `${generateName}${randomSuffix()}`;
  }

  applyNamespace(type, object, target.namespace);
  for (const field of [
    "uid",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
  ]) {
    delete metadata[field];
  }
  metadata.uid = randomUUID();
  metadata.creationTimestamp = kubeTimestamp();
  if (type.custom) {
    metadata.generation = 1;
  } else {
    delete metadata.generation;
  }

  if (type.hasStatusSubresource && !keepStatus) {
    delete object["status"];
  }

  applyTypeDefaults(type, object);
  validate(type, object);
  return object;
}

function checkIdentity(type: ResourceType, object: KubeObject, existing: KubeObject): void {
  const name = existing.metadata.name;
  if (object.metadata.name !== undefined && object.metadata.name !== name) {
    throw badRequest(
      `the name of the object (${String(object.metadata.name)}) does not match the name on the URL (${name})`,
    );
  }

  const resourceVersion = object.metadata.resourceVersion;
  if (
    resourceVersion !== undefined &&
    resourceVersion !== "" &&
    resourceVersion !== existing.metadata.resourceVersion
  ) {
    throw conflict(type, name, staleObjectCause);
  }
}

/**
 * Builds the object an update (PUT, or a patch after it is applied) stores, or returns undefined
 * when nothing would change, in which case the API server keeps the resourceVersion too.
 * A non-empty `metadata.resourceVersion` that differs from the stored one is a 409 Conflict.
 * Writes to `status` change only `.status`, and writes to the main resource keep the stored `.status`
 * when the resource has a status subresource.
 */
export function prepareUpdate(
  type: ResourceType,
  existing: KubeObject,
  body: unknown,
  target: WriteTarget,
): KubeObject | undefined {
  const submitted = decodeBody(type, body);
  applyNamespace(type, submitted, target.namespace);
  checkIdentity(type, submitted, existing);

  let object: KubeObject;
  if (target.subresource === "status") {
    object = cloneJson(existing);
    if (submitted["status"] === undefined) {
      delete object["status"];
    } else {
      object["status"] = submitted["status"];
    }
  } else {
    object = submitted;
    object.metadata.name = existing.metadata.name;
    if (type.hasStatusSubresource) {
      delete object["status"];
      if (existing["status"] !== undefined) {
        object["status"] = cloneJson(existing["status"]);
      }
    }
  }

  for (const field of [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
  ]) {
    if (existing.metadata[field] === undefined) {
      delete object.metadata[field];
    } else {
      object.metadata[field] = cloneJson(existing.metadata[field]);
    }
  }
  delete object.metadata["managedFields"];
  object.metadata.resourceVersion = existing.metadata.resourceVersion;

  applyTypeDefaults(type, object);
  validate(type, object);

  if (jsonEqual(object, existing)) {
    return undefined;
  }
  if (type.custom && !jsonEqual(specPart(object), specPart(existing))) {
    object.metadata.generation = (existing.metadata.generation ?? 0) + 1;
  }
  return object;
}
