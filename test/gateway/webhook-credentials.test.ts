import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { secretKeyReaderFromFlags } from "../../gateway/gateway-flags.js";
import { KubernetesSecrets } from "../../gateway/kubernetes-secrets.js";
import {
  MountedSecretFiles,
  WebhookCredentialsError,
  type SecretKeyReader,
} from "../../gateway/secret-key-reader.js";
import { WebhookAuthenticator } from "../../gateway/webhook-auth.js";
import type { SecretKeySelector, WebhookAuth } from "../../shared/config-schema.js";
import { UsageError } from "../../shared/errors.js";
import { startKubeApiEmulator, type KubeApiEmulator } from "../kube-api/emulator.js";
import {
  config,
  post,
  startWebhookGateway,
  webhookSource,
  type WebhookHarness,
} from "./webhook-harness.js";

const NAMESPACE = "reloader";

const DOCUMENT = JSON.stringify({ "0": { data: { ObjectName: "payments/stripe-key" } } });

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** Returns the status of a POST with `authorization` to source `index`. */
async function statusWith(
  harness: WebhookHarness,
  index: number,
  authorization: string,
): Promise<number> {
  return (await post(harness.url(index), DOCUMENT, { authorization })).status;
}

/** Polls until a POST with `authorization` gets `expected`; returns the last status. */
async function waitForStatus(
  harness: WebhookHarness,
  index: number,
  authorization: string,
  expected: number,
): Promise<number> {
  const deadline = Date.now() + 5000;
  let status = await statusWith(harness, index, authorization);
  while (status !== expected && Date.now() < deadline) {
    await sleep(50);
    status = await statusWith(harness, index, authorization);
  }
  return status;
}

function secretData(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString("base64")]),
  );
}

describe("webhook credentials from the Kubernetes API", () => {
  let emulator: KubeApiEmulator;
  let api: CoreV1Api;
  let reader: KubernetesSecrets;
  let harness: WebhookHarness;

  before(async () => {
    emulator = await startKubeApiEmulator();
    const kubeConfig = emulator.kubeConfig(NAMESPACE);
    api = kubeConfig.makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    await api.createNamespace({ body: { metadata: { name: "senders" } } });
    await api.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: "webhook-basic" },
        data: secretData({ username: "sender", password: "first-password" }),
      },
    });
    await api.createNamespacedSecret({
      namespace: "senders",
      body: { metadata: { name: "webhook-token" }, data: secretData({ token: "token-one" }) },
    });

    reader = new KubernetesSecrets(kubeConfig);
    harness = await startWebhookGateway(
      [
        config("api-credentials", [
          webhookSource({
            path: "/basic",
            auth: {
              kind: "basic",
              username: { name: "webhook-basic", key: "username" },
              password: { name: "webhook-basic", key: "password" },
            },
          }),
          webhookSource({
            index: 1,
            path: "/bearer",
            auth: {
              kind: "bearer",
              token: { namespace: "senders", name: "webhook-token", key: "token" },
            },
          }),
        ]),
      ],
      { secretKeyReader: reader, credentialRefreshMs: 100 },
    );
  });
  after(async () => {
    await harness?.cleanup();
    await emulator?.close();
  });

  it("reads references without namespace from the context's", () => {
    assert.equal(reader.namespace, NAMESPACE);
  });

  it("accepts credentials read through the API", async () => {
    assert.equal(await statusWith(harness, 0, basic("sender", "first-password")), 202);
    assert.equal(await statusWith(harness, 0, basic("sender", "wrong")), 401);
    assert.equal(await statusWith(harness, 1, "Bearer token-one"), 202);
    assert.equal(await statusWith(harness, 1, "Bearer token-two"), 401);
  });

  it("follows a rotated Secret without a restart", async () => {
    await api.replaceNamespacedSecret({
      name: "webhook-token",
      namespace: "senders",
      body: { metadata: { name: "webhook-token" }, data: secretData({ token: "token-two" }) },
    });

    assert.equal(await waitForStatus(harness, 1, "Bearer token-one", 401), 401);
    assert.equal(await statusWith(harness, 1, "Bearer token-two"), 202);
  });

  it("keeps the loaded credentials when the Secret is deleted", async () => {
    await api.deleteNamespacedSecret({ name: "webhook-basic", namespace: NAMESPACE });

    // Several refresh intervals pass with failing reads.
    await sleep(400);
    assert.equal(await statusWith(harness, 0, basic("sender", "first-password")), 202);
  });

  it("names a missing Secret and a missing key", async () => {
    const missingSecret: SecretKeySelector = { name: "absent", key: "token" };
    await assert.rejects(reader.read(missingSecret), (error: unknown) => {
      assert.ok(error instanceof WebhookCredentialsError);
      assert.match(error.message, /key "token" of Secret reloader\/absent/);
      assert.match(error.message, /Secret reloader\/absent not found \(HTTP 404\)/);
      return true;
    });

    const missingKey: SecretKeySelector = {
      namespace: "senders",
      name: "webhook-token",
      key: "user",
    };
    await assert.rejects(reader.read(missingKey), (error: unknown) => {
      assert.ok(error instanceof WebhookCredentialsError);
      assert.match(
        error.message,
        /Secret senders\/webhook-token has no key "user" \(its keys: token\)/,
      );
      return true;
    });
  });

  it("names a forbidden read and a slow API", async () => {
    // A Secret of its own, so the running gateway's refreshes never take the faults.
    await api.createNamespacedSecret({
      namespace: "senders",
      body: { metadata: { name: "fault-probe" }, data: secretData({ token: "probe" }) },
    });
    const selector: SecretKeySelector = { namespace: "senders", name: "fault-probe", key: "token" };

    emulator.faults.add({ resource: "secrets", name: "fault-probe", status: 403, times: 1 });
    await assert.rejects(
      reader.read(selector),
      /the gateway may not get Secret senders\/fault-probe \(HTTP 403\); grant its service account "get"/,
    );

    const impatient = new KubernetesSecrets(emulator.kubeConfig(NAMESPACE), { timeoutMs: 200 });
    emulator.faults.add({ resource: "secrets", name: "fault-probe", latencyMs: 2000, times: 1 });
    await assert.rejects(
      impatient.read(selector),
      /no answer within 200 ms; check that the Kubernetes API is reachable/,
    );
  });

  it("fails to start when a referenced Secret is missing", async () => {
    const auth: WebhookAuth = { kind: "bearer", token: { name: "absent", key: "token" } };
    await assert.rejects(
      startWebhookGateway([config("missing-secret", [webhookSource({ auth })])], {
        secretKeyReader: reader,
      }),
      /Secret reloader\/absent not found/,
    );
  });
});

describe("webhook credentials from mounted files", () => {
  let secretsDir: string;
  before(async () => {
    secretsDir = await mkdtemp(join(tmpdir(), "webhook-files-"));
    await mkdir(join(secretsDir, NAMESPACE, "webhook-token"), { recursive: true });
  });
  after(async () => {
    await rm(secretsDir, { recursive: true, force: true });
  });

  it("reloads a rewritten file", async () => {
    const tokenFile = join(secretsDir, NAMESPACE, "webhook-token", "token");
    await writeFile(tokenFile, "file-token-one");
    const reader: SecretKeyReader = new MountedSecretFiles(secretsDir);
    const auth: WebhookAuth = {
      kind: "bearer",
      token: { namespace: NAMESPACE, name: "webhook-token", key: "token" },
    };
    const authenticator = await WebhookAuthenticator.load(auth, reader);
    assert.equal(authenticator.verify("Bearer file-token-one"), true);

    await writeFile(tokenFile, "file-token-two");
    assert.equal(await authenticator.refresh(), true);
    assert.equal(authenticator.verify("Bearer file-token-one"), false);
    assert.equal(authenticator.verify("Bearer file-token-two"), true);
    assert.equal(await authenticator.refresh(), false);

    await rm(tokenFile);
    await assert.rejects(authenticator.refresh(), WebhookCredentialsError);
    assert.equal(authenticator.verify("Bearer file-token-two"), true);
  });
});

describe("--webhook-credentials", () => {
  const withoutAuth = [config("open", [webhookSource()])];
  const withAuth = [
    config("closed", [
      webhookSource({ auth: { kind: "bearer", token: { name: "auth", key: "token" } } }),
    ]),
  ];

  it("reads mounted files when set to files", () => {
    const reader = secretKeyReaderFromFlags({ "webhook-credentials": "files" }, withAuth);
    assert.equal(reader.kind, "files");
  });

  it("needs no cluster credentials without webhookAuth", () => {
    const reader = secretKeyReaderFromFlags({}, withoutAuth);
    assert.equal(reader.kind, "files");
  });

  it("rejects an unknown value", () => {
    assert.throws(
      () => secretKeyReaderFromFlags({ "webhook-credentials": "vault" }, withAuth),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /must be kubernetes or files, got "vault"/);
        return true;
      },
    );
  });
});
