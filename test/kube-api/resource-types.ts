/** How the API server validates `metadata.name` for a resource. */
export type NameRule = "dns-label" | "dns-subdomain";

/** A REST resource the emulator serves, with the facts discovery and the handlers need. */
export interface ResourceType {
  /** API group. The empty string is the core group, served under `/api`. */
  group: string;
  version: string;
  /** Lowercase plural, the path segment in URLs, e.g. `externalsecrets`. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Whether `{plural}/status` exists. If it does, writes to the main resource keep the stored `.status`. */
  hasStatusSubresource: boolean;
  /**
   * Whether the resource comes from a CustomResourceDefinition. Custom resources track
   * `metadata.generation` and reject strategic merge patches with 415, as the real API server does.
   */
  custom: boolean;
  nameRule: NameRule;
  /** Fields besides `metadata.name` and `metadata.namespace` that `fieldSelector` accepts. */
  extraSelectableFields: string[];
}

/** The verbs the emulator implements for every resource. */
export const resourceVerbs = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

/** The verbs of a `/status` subresource. */
export const statusVerbs = ["get", "patch", "update"];

/** Returns `group/version`, or just `version` for the core group. */
export function apiVersionOf(type: Pick<ResourceType, "group" | "version">): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

function coreType(
  plural: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceType>,
): ResourceType {
  return {
    group: "",
    version: "v1",
    plural,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    shortNames: [],
    categories: [],
    hasStatusSubresource: false,
    custom: false,
    nameRule: "dns-subdomain",
    extraSelectableFields: [],
    ...extra,
  };
}

/** Core v1 Namespaces, cluster-scoped. */
export const namespaceType = coreType("namespaces", "Namespace", false, {
  shortNames: ["ns"],
  hasStatusSubresource: true,
  nameRule: "dns-label",
  extraSelectableFields: ["status.phase"],
});

/** Core v1 ConfigMaps. */
export const configMapType = coreType("configmaps", "ConfigMap", true, { shortNames: ["cm"] });

/** Core v1 Secrets. */
export const secretType = coreType("secrets", "Secret", true, { extraSelectableFields: ["type"] });

/** External Secrets Operator's ExternalSecret, as its v1 CustomResourceDefinition declares it. */
export const externalSecretType: ResourceType = {
  group: "external-secrets.io",
  version: "v1",
  plural: "externalsecrets",
  singular: "externalsecret",
  kind: "ExternalSecret",
  namespaced: true,
  shortNames: ["es"],
  categories: ["external-secrets"],
  hasStatusSubresource: true,
  custom: true,
  nameRule: "dns-subdomain",
  extraSelectableFields: [],
};

/** The resources every emulator serves, before any added with the resourceTypes option. */
export const defaultResourceTypes: readonly ResourceType[] = [
  namespaceType,
  configMapType,
  secretType,
  externalSecretType,
];

/** The set of resources one emulator serves, looked up by URL segments or by apiVersion and kind. */
export class ResourceRegistry {
  private readonly all: ResourceType[] = [];

  constructor(types: readonly ResourceType[] = defaultResourceTypes) {
    for (const type of types) {
      this.register(type);
    }
  }

  /** Adds a resource. Throws when its group, version and plural, or its apiVersion and kind, are taken. */
  register(type: ResourceType): void {
    if (this.find(type.group, type.version, type.plural) !== undefined) {
      throw new Error(
        `resource ${type.plural} in ${apiVersionOf(type)} is already registered; register each resource once`,
      );
    }
    if (this.findByKind(apiVersionOf(type), type.kind) !== undefined) {
      throw new Error(
        `kind ${type.kind} in ${apiVersionOf(type)} is already registered; register each kind once`,
      );
    }
    this.all.push(type);
  }

  /** Returns every registered resource, in registration order. */
  types(): readonly ResourceType[] {
    return this.all;
  }

  /** Finds a resource by the segments of its URL. */
  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.all.find(
      (type) => type.group === group && type.version === version && type.plural === plural,
    );
  }

  /** Finds a resource by the `apiVersion` and `kind` written in an object. */
  findByKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.all.find((type) => apiVersionOf(type) === apiVersion && type.kind === kind);
  }

  /**
   * Resolves a name as kubectl accepts it: a plural, singular, kind or short name, optionally
   * followed by `.group` (e.g. `es`, `externalsecrets.external-secrets.io`, `Namespace`).
   * Throws when nothing matches, naming what is served.
   */
  resolve(name: string): ResourceType {
    const lower = name.toLowerCase();
    const match = this.all.find((type) => {
      const names = [type.plural, type.singular, type.kind.toLowerCase(), ...type.shortNames];
      return names.some(
        (candidate) => lower === candidate || lower === `${candidate}.${type.group}`,
      );
    });
    if (match === undefined) {
      const served = this.all.map((type) => type.plural).join(", ");
      throw new Error(`resource "${name}" is not served by this emulator; use one of: ${served}`);
    }
    return match;
  }

  /** Returns the API groups other than core, each with its versions in registration order. */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const type of this.all) {
      if (type.group === "") {
        continue;
      }
      const versions = groups.get(type.group) ?? [];
      if (!versions.includes(type.version)) {
        versions.push(type.version);
      }
      groups.set(type.group, versions);
    }
    return groups;
  }
}
