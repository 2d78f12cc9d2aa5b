import { parse as parseYaml } from "yaml";

import { ApiError, badRequest, unsupportedMediaType } from "./api-status.js";
import { mediaTypeOf } from "./http-io.js";
import {
  applyJsonPatch,
  JsonPatchApplyError,
  JsonPatchFormatError,
  parseJsonPatch,
} from "./json-patch.js";
import type { JsonValue } from "./json-value.js";
import type { KubeObject } from "./kube-object.js";
import { applyMergePatch, stripStrategicDirectives } from "./merge-patch.js";
import type { ResourceType } from "./resource-types.js";

/** Patch media types, as client-node's PatchStrategy and kubectl send them. */
export const patchMediaTypes = {
  jsonPatch: "application/json-patch+json",
  mergePatch: "application/merge-patch+json",
  strategicMergePatch: "application/strategic-merge-patch+json",
} as const;

function parseJson(body: Buffer, bodyName: string): JsonValue {
  try {
    return JSON.parse(body.toString("utf8")) as JsonValue;
  } catch (error) {
    throw badRequest(`the ${bodyName} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Decodes the body of a create or update, sent as JSON (the default) or YAML. Throws ApiError 400 or 415. */
export function decodeObjectBody(body: Buffer, contentType: string | undefined): JsonValue {
  const mediaType = mediaTypeOf(contentType);
  if (mediaType === "" || mediaType === "application/json") {
    return parseJson(body, "request body");
  }

  if (mediaType === "application/yaml") {
    try {
      return parseYaml(body.toString("utf8")) as JsonValue;
    } catch (error) {
      throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
    }
  }

  // NOTE: Protobuf is not decoded, so kubectl commands that send it for core types, such as
  // `kubectl create secret generic`, get 415. `kubectl apply -f` and `create -f` send JSON.
  throw unsupportedMediaType(contentType ?? "", ["application/json", "application/yaml"]);
}

/** Returns the patch media types a resource accepts. Custom resources do not accept strategic merge patches. */
export function acceptedPatchTypes(type: ResourceType): string[] {
  const types: string[] = [patchMediaTypes.jsonPatch, patchMediaTypes.mergePatch];
  if (!type.custom) {
    types.push(patchMediaTypes.strategicMergePatch);
  }
  return types;
}

function applyJsonPatchBody(existing: KubeObject, body: Buffer): JsonValue {
  try {
    return applyJsonPatch(existing, parseJsonPatch(parseJson(body, "JSON patch")));
  } catch (error) {
    if (error instanceof JsonPatchFormatError) {
      throw badRequest(error.message);
    }
    if (error instanceof JsonPatchApplyError) {
      // The API server returns 422 for a JSON patch that does not apply, including a failed `test`.
      throw new ApiError(422, "Invalid", error.message);
    }
    throw error;
  }
}

/**
 * Applies a PATCH body to the stored object according to its Content-Type and returns the patched
 * object, which the caller then stores like an update. Throws ApiError 400 for an undecodable
 * patch, 422 for a JSON patch that does not apply and 415 for a media type the resource does
 * not accept.
 */
export function applyPatchBody(
  type: ResourceType,
  existing: KubeObject,
  body: Buffer,
  contentType: string | undefined,
): JsonValue {
  const mediaType = mediaTypeOf(contentType);
  if (!acceptedPatchTypes(type).includes(mediaType)) {
    // NOTE: server-side apply (application/apply-patch+yaml) is not implemented, so it gets 415 too.
    throw unsupportedMediaType(contentType ?? "", acceptedPatchTypes(type));
  }

  switch (mediaType) {
    case patchMediaTypes.jsonPatch:
      return applyJsonPatchBody(existing, body);
    case patchMediaTypes.mergePatch:
      return applyMergePatch(existing, parseJson(body, "merge patch"));
    default:
      // NOTE: lists are replaced as in a merge patch, because merging list items by their patch
      // merge key is not implemented. That is exact for the metadata.labels and
      // metadata.annotations maps that `kubectl label` and `kubectl annotate` change.
      return applyMergePatch(
        existing,
        stripStrategicDirectives(parseJson(body, "strategic merge patch")),
      );
  }
}
