import { createHash } from "node:crypto";

import { emulatedKubernetesVersion } from "./discovery.js";
import { apiVersionOf, type ResourceRegistry, type ResourceType } from "./resource-types.js";

/**
 * A minimal OpenAPI v3 description of the served resources. kubectl create and apply read it to
 * learn that the server accepts the `fieldValidation` query parameter on PATCH, and then leave
 * validation to the server. Without it they fail with "failed to download openapi" unless run
 * with --validate=false.
 * NOTE: every schema accepts any fields, so `fieldValidation=Strict` rejects nothing here.
 */

/** Returns the group-version paths of the OpenAPI v3 root, e.g. `api/v1` and `apis/external-secrets.io/v1`. */
function groupVersionPaths(
  registry: ResourceRegistry,
): Map<string, { group: string; version: string }> {
  const paths = new Map<string, { group: string; version: string }>();
  for (const type of registry.types()) {
    const path = type.group === "" ? `api/${type.version}` : `apis/${type.group}/${type.version}`;
    paths.set(path, { group: type.group, version: type.version });
  }
  return paths;
}

function hashOf(value: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(value))
    .digest("hex")
    .slice(0, 16)
    .toUpperCase();
}

function schemaName(type: ResourceType): string {
  const group = type.group === "" ? "io.k8s.api.core" : type.group.split(".").reverse().join(".");
  return `${group}.${type.version}.${type.kind}`;
}

function patchOperation(type: ResourceType): Record<string, unknown> {
  const parameters = ["dryRun", "fieldManager", "fieldValidation", "force"].map((name) => ({
    name,
    in: "query",
    schema: { type: name === "force" ? "boolean" : "string" },
  }));
  const content = {
    "application/json": { schema: { $ref: `#/components/schemas/${schemaName(type)}` } },
  };
  return {
    operationId: `patch${type.kind}`,
    parameters,
    responses: { "200": { description: "OK", content } },
    "x-kubernetes-action": "patch",
    "x-kubernetes-group-version-kind": {
      group: type.group,
      version: type.version,
      kind: type.kind,
    },
  };
}

function objectPath(type: ResourceType): string {
  const prefix = type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  const scope = type.namespaced ? "/namespaces/{namespace}" : "";
  return `${prefix}${scope}/${type.plural}/{name}`;
}

/** Returns the OpenAPI v3 document of one group version, or undefined when it is not served. */
export function openApiGroupVersion(
  registry: ResourceRegistry,
  path: string,
): Record<string, unknown> | undefined {
  const groupVersion = groupVersionPaths(registry).get(path);
  if (groupVersion === undefined) {
    return undefined;
  }

  const types = registry
    .types()
    .filter((type) => type.group === groupVersion.group && type.version === groupVersion.version);
  const paths = Object.fromEntries(
    types.map((type) => [objectPath(type), { patch: patchOperation(type) }]),
  );
  const schemas = Object.fromEntries(
    types.map((type) => [
      schemaName(type),
      {
        type: "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "x-kubernetes-group-version-kind": [
          { group: type.group, version: type.version, kind: type.kind },
        ],
        description: `${type.kind} (${apiVersionOf(type)}) as served by the kube-api emulator; any fields are accepted.`,
      },
    ]),
  );

  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: emulatedKubernetesVersion.gitVersion },
    paths,
    components: { schemas },
  };
}

/** Returns the OpenAPI v3 root document (`GET /openapi/v3`), which lists one URL per group version. */
export function openApiRoot(registry: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const path of groupVersionPaths(registry).keys()) {
    const hash = hashOf(openApiGroupVersion(registry, path));
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  return { paths };
}
