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

/**
 * The Content-Type of the protobuf OpenAPI v2 document. kubectl 1.20 sends
 * `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, but Go's
 * mime.ParseMediaType rejects that `@` in a response, so the API server (kube-openapi) replies
 * with `.v1.0` in its place.
 */
export const openApiV2MediaType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

function protobufVarint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** Encodes one length-delimited protobuf field (wire type 2): a string or an embedded message. */
function protobufBytesField(fieldNumber: number, payload: Buffer): Buffer {
  return Buffer.concat([
    protobufVarint((fieldNumber << 3) | 2),
    protobufVarint(payload.length),
    payload,
  ]);
}

/**
 * Encodes the body of `GET /openapi/v2`: a protobuf `openapi.v2.Document` (gnostic's
 * openapiv2/OpenAPIv2.proto) with only `swagger` and `info` set. kubectl 1.20 downloads it to
 * validate manifests on the client before `create` and `apply`, and fails when it is missing.
 * The document has no definitions, so kubectl finds no schema for any kind and skips that check.
 * NOTE: the body is protobuf for every Accept header, because kubectl 1.20 requests no other type.
 */
export function openApiV2Document(): Buffer {
  const info = Buffer.concat([
    protobufBytesField(1, Buffer.from("Kubernetes")),
    protobufBytesField(2, Buffer.from(emulatedKubernetesVersion.gitVersion)),
  ]);
  return Buffer.concat([protobufBytesField(1, Buffer.from("2.0")), protobufBytesField(2, info)]);
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
