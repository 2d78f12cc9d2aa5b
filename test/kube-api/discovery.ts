import { createHash } from "node:crypto";

import {
  resourceVerbs,
  statusVerbs,
  type ResourceRegistry,
  type ResourceType,
} from "./resource-types.js";

/**
 * The Kubernetes version the emulator reports at `/version`. kubectl from the Google Cloud SDK
 * is a dispatcher that reads it to pick a matching kubectl minor version.
 */
export const emulatedKubernetesVersion = { major: "1", minor: "32", gitVersion: "v1.32.0" };

/** Returns the body of `GET /version`. */
export function versionInfo(): Record<string, string> {
  return {
    ...emulatedKubernetesVersion,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2024-12-11T00:00:00Z",
    goVersion: `go1.23.4`,
    compiler: "gc",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

/** Returns the body of `GET /api`: the versions of the core group. */
export function coreVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupEntry(group: string, versions: string[]): Record<string, unknown> {
  const entries = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: entries, preferredVersion: entries[0] };
}

/** Returns the body of `GET /apis`: every non-core group with its versions. */
export function apiGroupList(registry: ResourceRegistry): Record<string, unknown> {
  const groups = [...registry.groups()].map(([group, versions]) => groupEntry(group, versions));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

/** Returns the body of `GET /apis/{group}`. The caller checks that the group is served. */
export function apiGroup(registry: ResourceRegistry, group: string): Record<string, unknown> {
  return {
    kind: "APIGroup",
    apiVersion: "v1",
    ...groupEntry(group, registry.groups().get(group) ?? []),
  };
}

/** A short stable hash of a resource, standing in for the storage version hash the API server sends. */
function storageVersionHash(type: ResourceType): string {
  return createHash("sha256")
    .update(`${type.group}/${type.version}/${type.kind}`)
    .digest("base64")
    .slice(0, 11);
}

function resourceEntries(type: ResourceType): Record<string, unknown>[] {
  const main = {
    name: type.plural,
    singularName: type.singular,
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: resourceVerbs,
    shortNames: type.shortNames,
    categories: type.categories,
    storageVersionHash: storageVersionHash(type),
  };
  if (!type.hasStatusSubresource) {
    return [main];
  }
  const status = {
    name: `${type.plural}/status`,
    singularName: "",
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: statusVerbs,
  };
  return [main, status];
}

/** Returns the APIResourceList of one group version, served at `/api/v1` or `/apis/{group}/{version}`. */
export function apiResourceList(
  registry: ResourceRegistry,
  group: string,
  version: string,
): Record<string, unknown> {
  const types = registry.types().filter((type) => type.group === group && type.version === version);
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: types.flatMap(resourceEntries),
  };
}
