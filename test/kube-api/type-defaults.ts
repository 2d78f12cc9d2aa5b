import { badRequest } from "./api-status.js";
import { isJsonObject } from "./json-value.js";
import type { KubeObject } from "./kube-object.js";
import type { ResourceType } from "./resource-types.js";

/** Label the API server puts on every Namespace (since Kubernetes 1.21) so selectors can match a name. */
export const namespaceNameLabel = "kubernetes.io/metadata.name";

function defaultNamespace(object: KubeObject): void {
  object.metadata.labels = {
    ...(object.metadata.labels ?? {}),
    [namespaceNameLabel]: object.metadata.name,
  };

  const spec = isJsonObject(object["spec"]) ? object["spec"] : {};
  spec["finalizers"] ??= ["kubernetes"];
  object["spec"] = spec;

  const status = isJsonObject(object["status"]) ? object["status"] : {};
  status["phase"] ??= "Active";
  object["status"] = status;
}

/** Moves `stringData` into base64 `data` and checks `data`, as the API server does for Secrets. */
function defaultSecret(object: KubeObject): void {
  const data = object["data"] ?? {};
  if (!isJsonObject(data)) {
    throw badRequest(
      `Secret "${object.metadata.name}": data must be a map of keys to base64 strings`,
    );
  }

  for (const [key, value] of Object.entries(data)) {
    if (
      typeof value !== "string" ||
      !/^[A-Za-z0-9+/]*={0,2}$/.test(value) ||
      value.length % 4 !== 0
    ) {
      throw badRequest(
        `Secret "${object.metadata.name}": data.${key} must be a base64 string; put plain text in stringData instead`,
      );
    }
  }

  const stringData = object["stringData"];
  if (stringData !== undefined) {
    if (!isJsonObject(stringData)) {
      throw badRequest(
        `Secret "${object.metadata.name}": stringData must be a map of keys to strings`,
      );
    }
    for (const [key, value] of Object.entries(stringData)) {
      data[key] = Buffer.from(String(value)).toString("base64");
    }
    delete object["stringData"];
  }

  if (Object.keys(data).length > 0) {
    object["data"] = data;
  }
  object["type"] ??= "Opaque";
}

/** Applies the defaults the real API server adds to core types on every write. */
export function applyTypeDefaults(type: ResourceType, object: KubeObject): void {
  if (type.group !== "") {
    return;
  }
  if (type.kind === "Namespace") {
    defaultNamespace(object);
  } else if (type.kind === "Secret") {
    defaultSecret(object);
  }
}
