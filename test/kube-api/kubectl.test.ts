import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, constants, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import type { KubeApiEmulator } from "./emulator.js";
import { startFixtureEmulator } from "./suite-helpers.js";

const execFileAsync = promisify(execFile);

/** Finds kubectl in $KUBECTL or on PATH. Throws with the fix when it is missing, so the tests fail instead of skipping. */
async function findKubectl(): Promise<string> {
  const candidates = process.env["KUBECTL"] !== undefined ? [process.env["KUBECTL"]] : [];
  for (const directory of (process.env["PATH"] ?? "")
    .split(delimiter)
    .filter((entry) => entry !== "")) {
    candidates.push(join(directory, "kubectl"));
  }
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Try the next candidate.
    }
  }
  throw new Error(
    "kubectl was not found on PATH. Install it (Debian package kubernetes-client) or set KUBECTL to its path.",
  );
}

let emulator: KubeApiEmulator;
let kubectlPath: Promise<string> | undefined;
let home: string;
let kubeconfig: string;

before(async () => {
  emulator = await startFixtureEmulator();
  home = await mkdtemp(join(tmpdir(), "kube-api-kubectl-"));
  kubeconfig = join(home, "kubeconfig");
  await emulator.writeKubeconfig(kubeconfig);
});

after(async () => {
  await emulator?.close();
  if (home !== undefined) {
    await rm(home, { recursive: true, force: true });
  }
});

/** Runs kubectl against the emulator with only the emulator's kubeconfig and an empty HOME. */
async function kubectl(...args: string[]): Promise<string> {
  // Looked up here rather than in before() so a missing kubectl fails each test with its message.
  kubectlPath ??= findKubectl();
  const executable = await kubectlPath;
  const env = { PATH: process.env["PATH"] ?? "", HOME: home, KUBECONFIG: kubeconfig };
  try {
    const { stdout } = await execFileAsync(executable, ["--request-timeout=10s", ...args], {
      env,
      timeout: 20_000,
    });
    return stdout;
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(
      `kubectl ${args.join(" ")} failed: ${failure.message}\n${failure.stderr ?? ""}`,
    );
  }
}

/** Splits a kubectl table into rows of columns, without the header line. */
function tableRows(output: string): string[][] {
  return output
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/));
}

describe("kubectl", () => {
  it("gets externalsecrets in all namespaces", async () => {
    const output = await kubectl("get", "externalsecrets", "-A");
    assert.match(output.split("\n")[0] ?? "", /^NAMESPACE\s+NAME\s+/);
    assert.deepEqual(
      tableRows(output).map(([namespace, name]) => `${namespace}/${name}`),
      [
        "payments/db-credentials",
        "payments/stripe",
        "payments/unrelated",
        "sandbox/db-credentials",
        "web/all-app-secrets",
        "web/rendered-config",
      ],
    );
  });

  it("gets es in one namespace as JSON", async () => {
    const list = JSON.parse(await kubectl("get", "es", "-n", "payments", "-o", "json"));
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((item: { metadata: { name: string } }) => item.metadata.name),
      ["db-credentials", "stripe", "unrelated"],
    );
    assert.equal(list.items[0].spec.secretStoreRef.name, "vault");
  });

  it("selects externalsecrets by label", async () => {
    const output = await kubectl("get", "externalsecrets", "-l", "tier=backend", "-A");
    assert.deepEqual(
      tableRows(output).map(([namespace, name]) => `${namespace}/${name}`),
      ["payments/db-credentials", "sandbox/db-credentials"],
    );
  });

  it("labels an externalsecret", async () => {
    const output = await kubectl(
      "label",
      "externalsecret",
      "stripe",
      "-n",
      "payments",
      "rotated=yes",
    );
    assert.match(output, /externalsecret\.external-secrets\.io\/stripe labeled/);
    const stored = emulator.store.mustGet("externalsecrets", "payments", "stripe");
    assert.deepEqual(stored.metadata.labels, { app: "checkout", tier: "frontend", rotated: "yes" });
  });

  it("annotates an externalsecret with a merge patch", async () => {
    emulator.requests.clear();
    const output = await kubectl(
      "annotate",
      "externalsecret",
      "db-credentials",
      "-n",
      "sandbox",
      "reloader/x=y",
    );
    assert.match(output, /annotated/);
    assert.equal(
      emulator.store.mustGet("externalsecrets", "sandbox", "db-credentials").metadata.annotations?.[
        "reloader/x"
      ],
      "y",
    );

    const [patch] = emulator.requests.list((entry) => entry.method === "PATCH");
    assert.equal(patch?.contentType, "application/merge-patch+json");
  });

  it("gets namespaces", async () => {
    const output = await kubectl("get", "namespaces");
    assert.deepEqual(
      tableRows(output).map(([name]) => name),
      ["payments", "sandbox", "web"],
    );
  });

  it("labels a namespace with a merge patch", async () => {
    emulator.requests.clear();
    await kubectl("label", "namespace", "web", "reload=enabled");
    assert.equal(
      emulator.store.mustGet("namespaces", "", "web").metadata.labels?.["reload"],
      "enabled",
    );
    const [patch] = emulator.requests.list((entry) => entry.method === "PATCH");
    assert.equal(patch?.contentType, "application/merge-patch+json");
  });

  it("patches a namespace with a strategic merge patch", async () => {
    emulator.requests.clear();
    await kubectl(
      "patch",
      "namespace",
      "sandbox",
      "-p",
      '{"metadata":{"annotations":{"owner":"platform"}}}',
    );
    assert.equal(
      emulator.store.mustGet("namespaces", "", "sandbox").metadata.annotations?.["owner"],
      "platform",
    );
    const [patch] = emulator.requests.list((entry) => entry.method === "PATCH");
    assert.equal(patch?.contentType, "application/strategic-merge-patch+json");
  });

  it("applies a manifest without --validate=false", async () => {
    const manifest = join(home, "configmap.yaml");
    await writeFile(
      manifest,
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site-template, namespace: web}\ndata: {config.tmpl: hello}\n",
    );
    const output = await kubectl("apply", "-f", manifest);
    assert.match(output, /configmap\/site-template created/);
    assert.deepEqual(emulator.store.mustGet("configmaps", "web", "site-template")["data"], {
      "config.tmpl": "hello",
    });
  });

  it("reports a missing object", async () => {
    await assert.rejects(
      kubectl("get", "es", "nope", "-n", "payments"),
      /externalsecrets\.external-secrets\.io "nope" not found/,
    );
  });
});
