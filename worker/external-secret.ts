import type { KubernetesObject } from "@kubernetes/client-node";

/**
 * The External Secrets Operator `ExternalSecret` resource (external-secrets.io/v1) and the
 * secret identifiers it references. Objects arrive as untyped JSON from the API server, so
 * every field is read defensively.
 */

/** API group of ExternalSecret. */
export const EXTERNAL_SECRET_GROUP = "external-secrets.io";

/** API version of ExternalSecret that the worker reads and patches. */
export const EXTERNAL_SECRET_VERSION = "v1";

/** Resource name of ExternalSecret in API paths. */
export const EXTERNAL_SECRET_PLURAL = "externalsecrets";

/** An ExternalSecret as the API server returns it; only `metadata` is trusted to exist. */
export interface ExternalSecretObject extends KubernetesObject {
  spec?: unknown;
}

/** The identifiers an ExternalSecret references, split by how they are matched. */
export interface ExternalSecretReferences {
  /**
   * Identifiers matched by equality: `spec.data[].remoteRef.key`,
   * `spec.dataFrom[].extract.key` and the ConfigMap and Secret names in
   * `spec.target.template.templateFrom[]`.
   */
  readonly exactKeys: ReadonlySet<string>;
  /** RE2 patterns from `spec.dataFrom[].find.name.regexp`, in spec order, without duplicates. */
  readonly findRegexps: readonly string[];
}

/** Namespace and name of an object, the unit a patch job targets. */
export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Reads the identifiers an ExternalSecret references. Entries of the wrong shape are
 * skipped, because the CRD schema already rejects them and a half-written object must not
 * stop the cache.
 *
 * NOTE: `dataFrom[].find.path` and `find.tags` are not read, so a find regexp matches an
 * identifier even when the provider would look under another path.
 */
export function readReferences(object: ExternalSecretObject): ExternalSecretReferences {
  const spec = asRecord(object.spec);
  const exactKeys = new Set<string>();
  const findRegexps: string[] = [];

  for (const entry of asArray(spec?.data)) {
    addString(exactKeys, asRecord(asRecord(entry)?.remoteRef)?.key);
  }

  for (const entry of asArray(spec?.dataFrom)) {
    const dataFrom = asRecord(entry);
    addString(exactKeys, asRecord(dataFrom?.extract)?.key);

    const regexp = asRecord(asRecord(dataFrom?.find)?.name)?.regexp;
    if (typeof regexp === "string" && regexp !== "" && !findRegexps.includes(regexp)) {
      findRegexps.push(regexp);
    }
  }

  const template = asRecord(asRecord(spec?.target)?.template);
  for (const entry of asArray(template?.templateFrom)) {
    const templateFrom = asRecord(entry);
    addString(exactKeys, asRecord(templateFrom?.configMap)?.name);
    addString(exactKeys, asRecord(templateFrom?.secret)?.name);
  }

  return { exactKeys, findRegexps };
}

/**
 * Returns the namespace and name of an object, or `undefined` when either is missing, as
 * for an object that is not namespaced or not yet named.
 */
export function readObjectRef(object: KubernetesObject): ObjectRef | undefined {
  const namespace = object.metadata?.namespace;
  const name = object.metadata?.name;
  if (namespace === undefined || namespace === "" || name === undefined || name === "") {
    return undefined;
  }

  return { namespace, name };
}

/** Returns the cache key of an object: `<namespace>/<name>`. */
export function formatObjectKey(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function addString(target: Set<string>, value: unknown): void {
  if (typeof value === "string" && value !== "") {
    target.add(value);
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return undefined;
  }

  return value as Record<string, unknown>;
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}
