import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  readVaultAuditEntry,
  type VaultAuditResult,
  type VaultAuditSettings,
} from "../../gateway/vault-audit.js";
import { DEFAULT_VAULT_OPERATIONS } from "../../shared/config-schema.js";
import { fixturePath } from "../support/fixtures.js";

const DEFAULTS: VaultAuditSettings = {
  operations: DEFAULT_VAULT_OPERATIONS,
  includeNamespace: false,
};

type Entry = Record<string, unknown> & { request: Record<string, unknown> };

function streamEntries(): Entry[] {
  const text = readFileSync(fixturePath("vault-audit-stream.ndjson"), "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Entry);
}

function kv2Update(): Entry {
  return JSON.parse(readFileSync(fixturePath("vault-kv2-update.json"), "utf8")) as Entry;
}

/** Returns a copy of the KV v2 update entry with `request` fields replaced. */
function withRequest(fields: Record<string, unknown>): Entry {
  const entry = kv2Update();
  return { ...entry, request: { ...entry.request, ...fields } };
}

/** Returns the identifier of an accepted result, or fails naming the result. */
function identifierOf(result: VaultAuditResult): string {
  assert.equal(result.kind, "accepted", JSON.stringify(result));
  return result.kind === "accepted" ? result.identifiers[0] : "";
}

function assertIgnored(result: VaultAuditResult, reason: RegExp): void {
  assert.equal(result.kind, "ignored", JSON.stringify(result));
  if (result.kind === "ignored") assert.match(result.reason, reason);
}

function assertMalformed(result: VaultAuditResult, detail: RegExp): void {
  assert.equal(result.kind, "malformed", JSON.stringify(result));
  if (result.kind === "malformed") assert.match(result.detail, detail);
}

describe("readVaultAuditEntry", () => {
  test("stream fixture line by line", () => {
    const results = streamEntries().map((entry) => readVaultAuditEntry(entry, DEFAULTS));
    assert.equal(results.length, 7);

    assertIgnored(results[0] as VaultAuditResult, /entry type "request"/);
    assert.equal(identifierOf(results[1] as VaultAuditResult), "app/db-password");
    assertIgnored(results[2] as VaultAuditResult, /operation "read"/);
    assert.equal(identifierOf(results[3] as VaultAuditResult), "payments/stripe-key");
    assertIgnored(results[4] as VaultAuditResult, /KV v2 metadata path/);
    assertIgnored(results[5] as VaultAuditResult, /mount type "pki"/);
    assert.equal(identifierOf(results[6] as VaultAuditResult), "app/api-key");
  });

  test("pretty-printed KV v2 update", () => {
    assert.equal(identifierOf(readVaultAuditEntry(kv2Update(), DEFAULTS)), "app/db-password");
  });

  test("error response is ignored", () => {
    const entry = { ...kv2Update(), error: "permission denied" };
    assertIgnored(readVaultAuditEntry(entry, DEFAULTS), /reports an error/);
  });

  test("empty error field counts", () => {
    const entry = { ...kv2Update(), error: "" };
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "app/db-password");
  });

  test("KV v1 path has no data segment", () => {
    const entry = withRequest({ mount_point: "kv1/", path: "kv1/app/db-password" });
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "app/db-password");
  });

  test("mount fields absent except mount_type", () => {
    const entry = withRequest({ mount_class: undefined, mount_running_version: undefined });
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "app/db-password");
  });

  test("mount fields only in the response", () => {
    const entry = withRequest({ mount_type: undefined, mount_point: undefined });
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "app/db-password");
  });

  test("mount type missing everywhere is ignored", () => {
    const entry = { ...withRequest({ mount_type: undefined }), response: {} };
    assertIgnored(readVaultAuditEntry(entry, DEFAULTS), /mount type \(missing\)/);
  });

  test("mount point repeated later in the path", () => {
    const entry = withRequest({ path: "secret/data/secret/app" });
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "secret/app");

    const v1 = withRequest({ mount_point: "kv/", path: "kv/team/kv/token" });
    assert.equal(identifierOf(readVaultAuditEntry(v1, DEFAULTS)), "team/kv/token");
  });

  test("nested mount point", () => {
    const entry = withRequest({ mount_point: "teams/a/", path: "teams/a/data/db" });
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "db");
  });

  test("KV v2 version paths are ignored", () => {
    for (const segment of ["metadata", "delete", "undelete", "destroy"]) {
      const entry = withRequest({ path: `secret/${segment}/app/db-password` });
      assertIgnored(readVaultAuditEntry(entry, DEFAULTS), new RegExp(`KV v2 ${segment} path`));
    }
  });

  test("namespace prefix when enabled", () => {
    const entry = withRequest({ namespace: { id: "abc12", path: "team-a/" } });
    const enabled = { ...DEFAULTS, includeNamespace: true };
    assert.equal(identifierOf(readVaultAuditEntry(entry, enabled)), "team-a/app/db-password");
  });

  test("namespace prefix when disabled", () => {
    const entry = withRequest({ namespace: { id: "abc12", path: "team-a/" } });
    assert.equal(identifierOf(readVaultAuditEntry(entry, DEFAULTS)), "app/db-password");
  });

  test("namespace path without trailing slash", () => {
    const entry = withRequest({ namespace: { id: "abc12", path: "team-a/db" } });
    const enabled = { ...DEFAULTS, includeNamespace: true };
    assert.equal(identifierOf(readVaultAuditEntry(entry, enabled)), "team-a/db/app/db-password");
  });

  test("root namespace adds nothing", () => {
    const enabled = { ...DEFAULTS, includeNamespace: true };
    assert.equal(identifierOf(readVaultAuditEntry(kv2Update(), enabled)), "app/db-password");

    const emptyPath = withRequest({ namespace: { id: "root", path: "" } });
    assert.equal(identifierOf(readVaultAuditEntry(emptyPath, enabled)), "app/db-password");
  });

  test("custom operations list", () => {
    const settings = { ...DEFAULTS, operations: ["update"] };
    const results = streamEntries().map((entry) => readVaultAuditEntry(entry, settings));
    const accepted = results.filter((result) => result.kind === "accepted");
    assert.deepEqual(
      accepted.map((result) => result.identifiers[0]),
      ["app/db-password"],
    );
    assertIgnored(results[3] as VaultAuditResult, /operation "create"/);
    assertIgnored(results[6] as VaultAuditResult, /operation "patch"/);
  });

  test("delete operation counts when configured", () => {
    const settings = { ...DEFAULTS, operations: ["delete"] };
    const entry = withRequest({ operation: "delete" });
    assert.equal(identifierOf(readVaultAuditEntry(entry, settings)), "app/db-password");
  });

  test("malformed entries", () => {
    assertMalformed(readVaultAuditEntry(null, DEFAULTS), /not a JSON object/);
    assertMalformed(readVaultAuditEntry([], DEFAULTS), /not a JSON object/);
    assertMalformed(readVaultAuditEntry({ type: "response" }, DEFAULTS), /request is missing/);
    assertMalformed(readVaultAuditEntry(withRequest({ path: undefined }), DEFAULTS), /path/);
    assertMalformed(readVaultAuditEntry(withRequest({ path: 42 }), DEFAULTS), /path/);
    assertMalformed(
      readVaultAuditEntry({ ...withRequest({ mount_point: undefined }), response: {} }, DEFAULTS),
      /mount_point is missing from request and response/,
    );
    assertMalformed(
      readVaultAuditEntry(withRequest({ path: "other/data/app" }), DEFAULTS),
      /does not start with request\.mount_point/,
    );
    assertMalformed(
      readVaultAuditEntry(withRequest({ path: "secret/data/" }), DEFAULTS),
      /names no secret/,
    );
  });

  test("mount point matches whole segments", () => {
    const withoutSlash = { mount_point: "secret" };
    assertMalformed(
      readVaultAuditEntry(withRequest({ ...withoutSlash, path: "secretX/data/app" }), DEFAULTS),
      /does not start with request\.mount_point/,
    );
    assert.deepEqual(
      readVaultAuditEntry(withRequest({ ...withoutSlash, path: "secret/data/app" }), DEFAULTS),
      { kind: "accepted", identifiers: ["app"] },
    );
  });

  test("entry type missing is ignored", () => {
    const { type: _type, ...entry } = kv2Update();
    assertIgnored(readVaultAuditEntry(entry, DEFAULTS), /entry type \(missing\)/);
  });

  test("long field values are shortened in reasons", () => {
    const entry = withRequest({ operation: "x".repeat(500) });
    const result = readVaultAuditEntry(entry, DEFAULTS);
    assertIgnored(result, /operation "x+\.\.\. is not/);
    if (result.kind === "ignored") assert.ok(result.reason.length < 100, result.reason);
  });
});
