/**
 * Reads secret identifiers from the entries of a Vault or OpenBao audit device. Audit
 * devices HMAC string values such as secret data and tokens, but not request metadata such
 * as `type`, `operation`, `path`, `mount_point`, `mount_type` and `namespace`. Only such
 * metadata is read here.
 */

/** Settings of a HashicorpVault source that decide which entries count. */
export interface VaultAuditSettings {
  /** Request operations that count as secret writes, such as `update`. */
  readonly operations: readonly string[];
  /** Whether the identifier starts with `request.namespace.path`, such as `team-a/`. */
  readonly includeNamespace: boolean;
}

/** Identifier of one audit entry, or why the entry has none. */
export type VaultAuditResult =
  | { readonly kind: "accepted"; readonly identifiers: readonly [string] }
  /** A well-formed entry that is not a secret write, such as a read or a `request` entry. */
  | { readonly kind: "ignored"; readonly reason: string }
  /** An entry without the fields that every audit response carries; `detail` quotes no value. */
  | { readonly kind: "malformed"; readonly detail: string };

/** Mount type of the KV secrets engine, version 1 and 2 alike. */
const KV_MOUNT_TYPE = "kv";

/** KV v2 path segment of secret versions: `<mount>/data/<name>`. */
const KV2_DATA_SEGMENT = "data/";

/** KV v2 path segments that change metadata or versions but write no secret value. */
const KV2_OTHER_SEGMENTS = ["metadata/", "delete/", "undelete/", "destroy/"];

/**
 * Returns the secret identifier of one parsed audit entry: `request.path` without the
 * leading `request.mount_point` and without the KV v2 `data/` segment, optionally after
 * the namespace path. Only `response` entries of successful KV writes whose operation is
 * in `settings.operations` count. Vault writes the `request` entry before it handles the
 * request, so that entry does not show whether the write succeeded.
 */
export function readVaultAuditEntry(
  entry: unknown,
  settings: VaultAuditSettings,
): VaultAuditResult {
  if (!isRecord(entry)) return malformed("the entry is not a JSON object");
  if (entry.type !== "response") {
    return ignored(`entry type ${quoteField(entry.type)} is not "response"`);
  }
  if (entry.error !== undefined && entry.error !== null && entry.error !== "") {
    return ignored("the response reports an error");
  }

  const request = entry.request;
  if (!isRecord(request)) return malformed("request is missing");
  if (typeof request.path !== "string" || request.path === "") {
    return malformed("request.path is missing");
  }
  // The original Reloader reads the mount from `response`, so it is the fallback here.
  const response = isRecord(entry.response) ? entry.response : {};
  const mountType = request.mount_type ?? response.mount_type;
  if (mountType !== KV_MOUNT_TYPE) {
    return ignored(`mount type ${quoteField(mountType)} is not "kv"`);
  }
  if (typeof request.operation !== "string" || !settings.operations.includes(request.operation)) {
    return ignored(
      `operation ${quoteField(request.operation)} is not a configured write operation`,
    );
  }

  const mountPoint = request.mount_point ?? response.mount_point;
  if (typeof mountPoint !== "string" || mountPoint === "") {
    return malformed("mount_point is missing from request and response");
  }
  // Vault writes mount points with a trailing slash (`secret/`). One without is matched as
  // a whole path segment, so mount `secret` does not claim `secretX/...`.
  const mountPrefix = mountPoint.endsWith("/") ? mountPoint : `${mountPoint}/`;
  if (!request.path.startsWith(mountPrefix)) {
    return malformed("request.path does not start with request.mount_point");
  }

  // Only the leading mount point is removed, so `secret/data/secret/x` names `secret/x`.
  const name = secretName(request.path.slice(mountPrefix.length));
  if (name.kind !== "accepted") return name;

  const namespace = settings.includeNamespace ? namespacePath(request.namespace) : "";
  return { kind: "accepted", identifiers: [`${namespace}${name.identifiers[0]}`] };
}

/**
 * Returns the secret name of a path relative to a KV mount.
 *
 * NOTE: audit entries do not say whether a KV mount is version 1 or 2, because
 * `mount_running_version` is the plugin version (such as `v0.20.0+builtin`). A path that
 * starts with a KV v2 segment is read as KV v2, so a KV v1 secret whose name starts with
 * `data/` or `metadata/` is misread.
 */
function secretName(relativePath: string): VaultAuditResult {
  const otherSegment = KV2_OTHER_SEGMENTS.find((segment) => relativePath.startsWith(segment));
  if (otherSegment !== undefined) {
    return ignored(`KV v2 ${otherSegment.slice(0, -1)} path does not write a secret value`);
  }

  const name = relativePath.startsWith(KV2_DATA_SEGMENT)
    ? relativePath.slice(KV2_DATA_SEGMENT.length)
    : relativePath;
  if (name === "") return malformed("request.path names no secret below the mount point");
  return { kind: "accepted", identifiers: [name] };
}

/** Returns `namespace.path` ending in `/`, or "" for the root namespace. */
function namespacePath(namespace: unknown): string {
  if (!isRecord(namespace) || typeof namespace.path !== "string" || namespace.path === "") {
    return "";
  }
  return namespace.path.endsWith("/") ? namespace.path : `${namespace.path}/`;
}

function ignored(reason: string): VaultAuditResult {
  return { kind: "ignored", reason };
}

function malformed(detail: string): VaultAuditResult {
  return { kind: "malformed", detail };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Quotes a request metadata field, which audit devices do not HMAC, for a debug log line. */
function quoteField(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
