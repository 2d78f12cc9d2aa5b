import type { ResourceRegistry, ResourceType } from "./resource-types.js";

/** What an API path under `/api/v1` or `/apis/{group}/{version}` addresses. */
export type ApiPath =
  | { kind: "versions"; group: "" }
  | { kind: "groups" }
  | { kind: "group"; group: string }
  | { kind: "resourceList"; group: string; version: string }
  | ResourcePath
  | { kind: "unknown" };

/** A path that addresses a resource collection, one object, or an object's subresource. */
export interface ResourcePath {
  kind: "resource";
  type: ResourceType;
  /** Namespace from the path, or "" for cluster-scoped resources and lists across all namespaces. */
  namespace: string;
  name?: string;
  subresource?: string;
  /** True for the deprecated `/watch/` path prefix, which means the same as `?watch=true`. */
  legacyWatch: boolean;
}

/** The verbs of the Kubernetes authorization model, derived from the HTTP method and path. */
export type Verb =
  "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

function splitSegments(pathname: string): string[] | undefined {
  try {
    return pathname
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
}

function parseResourceSegments(
  registry: ResourceRegistry,
  group: string,
  version: string,
  segments: string[],
): ApiPath {
  const legacyWatch = segments[0] === "watch";
  const rest = legacyWatch ? segments.slice(1) : segments;

  let namespace = "";
  let objectSegments = rest;
  const nestedType =
    rest[0] === "namespaces" && rest.length >= 3
      ? registry.find(group, version, rest[2] ?? "")
      : undefined;
  if (nestedType?.namespaced === true) {
    namespace = rest[1] ?? "";
    objectSegments = rest.slice(2);
  }

  const [plural = "", name, subresource, ...extra] = objectSegments;
  const type = registry.find(group, version, plural);
  if (type === undefined || extra.length > 0) {
    return { kind: "unknown" };
  }
  if (type.namespaced && namespace === "" && name !== undefined) {
    return { kind: "unknown" };
  }
  if (subresource !== undefined && !(subresource === "status" && type.hasStatusSubresource)) {
    return { kind: "unknown" };
  }

  const path: ResourcePath = { kind: "resource", type, namespace, legacyWatch };
  if (name !== undefined) {
    path.name = name;
  }
  if (subresource !== undefined) {
    path.subresource = subresource;
  }
  return path;
}

/** Parses the path of a Kubernetes API request into what it addresses. */
export function parseApiPath(registry: ResourceRegistry, pathname: string): ApiPath {
  const segments = splitSegments(pathname);
  if (segments === undefined) {
    return { kind: "unknown" };
  }

  const [root, first, second, ...rest] = segments;
  if (root === "api") {
    if (first === undefined) {
      return { kind: "versions", group: "" };
    }
    if (second === undefined) {
      return registry.types().some((type) => type.group === "" && type.version === first)
        ? { kind: "resourceList", group: "", version: first }
        : { kind: "unknown" };
    }
    return parseResourceSegments(registry, "", first, [second, ...rest]);
  }

  if (root === "apis") {
    if (first === undefined) {
      return { kind: "groups" };
    }
    if (second === undefined) {
      return registry.groups().has(first) ? { kind: "group", group: first } : { kind: "unknown" };
    }
    if (rest.length === 0) {
      const served = registry.groups().get(first)?.includes(second) === true;
      return served ? { kind: "resourceList", group: first, version: second } : { kind: "unknown" };
    }
    return parseResourceSegments(registry, first, second, rest);
  }

  return { kind: "unknown" };
}

/**
 * Derives the verb of a resource request, or undefined when the method is not allowed there
 * (e.g. POST to one object, or a write to a namespaced collection across all namespaces).
 */
export function verbOf(
  method: string,
  path: ResourcePath,
  watchRequested: boolean,
): Verb | undefined {
  const acrossNamespaces = path.type.namespaced && path.namespace === "";

  if (path.name === undefined) {
    if (method === "GET") {
      return watchRequested || path.legacyWatch ? "watch" : "list";
    }
    if (acrossNamespaces) {
      return undefined;
    }
    if (method === "POST") {
      return "create";
    }
    return method === "DELETE" ? "deletecollection" : undefined;
  }

  switch (method) {
    case "GET":
      return watchRequested || path.legacyWatch ? "watch" : "get";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return path.subresource === undefined ? "delete" : undefined;
    default:
      return undefined;
  }
}
