import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Gateway } from "../../gateway/gateway.js";
import { ListenError } from "../../gateway/listen-error.js";
import { secretKeyFile, WebhookCredentialsError } from "../../gateway/secret-key-reader.js";
import { freePort } from "../../launcher/private-redis.js";
import { createLogger } from "../../shared/logger.js";
import { createMetricsRegistry, GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import { ROTATION_JOB_OPTIONS } from "../../shared/queue-contract.js";
import { TEST_REDIS_URL } from "./gateway-harness.js";
import {
  config,
  post,
  startWebhookGateway,
  webhookSource,
  type WebhookHarness,
} from "./webhook-harness.js";

const STRIPE_DOCUMENT = JSON.stringify({ "0": { data: { ObjectName: "payments/stripe-key" } } });

describe("webhook source", () => {
  let harness: WebhookHarness;
  before(async () => {
    harness = await startWebhookGateway([
      config("webhook-test", [
        webhookSource(),
        webhookSource({ index: 1, path: "/items", identifierPathOnPayload: "#.name" }),
      ]),
    ]);
  });
  after(() => harness.cleanup());

  it("responds 202 after storing the job", async () => {
    const response = await post(harness.url(), STRIPE_DOCUMENT);
    assert.equal(response.status, 202);
    const jobIds = response.body.jobIds as string[];
    assert.equal(jobIds.length, 1);

    const job = await harness.queue.getJob(jobIds[0] as string);
    assert.ok(job, "the job is in Redis");
    assert.equal(job.data.identifier, "payments/stripe-key");
    assert.equal(job.data.sourceType, "Webhook");
    assert.equal(job.data.configName, "webhook-test");
    assert.equal(job.data.sourceIndex, 0);
    assert.equal(job.opts.attempts, ROTATION_JOB_OPTIONS.attempts);
    assert.equal(await harness.messages("accepted"), 1);
  });

  it("queues one job per array element", async () => {
    const body = JSON.stringify([{ name: "app/a" }, { name: "app/b" }, { name: "app/c" }]);
    const response = await post(harness.url(1), body);
    assert.equal(response.status, 202);
    const jobIds = response.body.jobIds as string[];
    assert.equal(jobIds.length, 3);

    const jobs = await Promise.all(jobIds.map((id) => harness.queue.getJob(id)));
    assert.deepEqual(
      jobs.map((job) => job?.data.identifier),
      ["app/a", "app/b", "app/c"],
    );
    const enqueued = await readMetricValue(
      harness.registry,
      GatewayMetricName.IdentifiersEnqueued,
      { config: "webhook-test", source: "1" },
    );
    assert.equal(enqueued, 3);
  });

  it("responds 400 naming the problem", async () => {
    const cases = [
      { body: "{not json", result: "invalid_json", message: /not valid JSON/ },
      { body: "", result: "invalid_json", message: /body is empty/ },
      { body: '{"0":{"data":{}}}', result: "missing_identifier", message: /0\.data\.ObjectName/ },
      { body: '{"0":{"data":{"ObjectName":42}}}', result: "not_string", message: /is number/ },
      {
        body: '{"0":{"data":{"ObjectName":"a\\nb"}}}',
        result: "rejected_identifier",
        message: /rejected \(control_character\)/,
      },
    ];
    for (const testCase of cases) {
      const response = await post(harness.url(), testCase.body);
      assert.equal(response.status, 400, `status for ${JSON.stringify(testCase.body)}`);
      assert.match(String(response.body.error), testCase.message);
      assert.ok((await harness.messages(testCase.result)) >= 1, `${testCase.result} counted`);
    }
  });

  it("invalid JSON error does not quote the body", async () => {
    const response = await post(harness.url(), "hunter2 is the password");
    assert.equal(response.status, 400);
    assert.match(String(response.body.error), /^the request body is not valid JSON/);
    assert.doesNotMatch(String(response.body.error), /hunter2/);
  });

  it("reads a body labelled text/plain", async () => {
    const response = await post(harness.url(), STRIPE_DOCUMENT, { "content-type": "text/plain" });
    assert.equal(response.status, 202);
  });

  it("responds 405 to GET, 404 elsewhere", async () => {
    const get = await fetch(harness.url());
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");

    const missing = await post(harness.url().replace("/webhook", "/other"), STRIPE_DOCUMENT);
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.error), /POST to \/webhook, \/items/);
  });
});

describe("webhook size limit", () => {
  let harness: WebhookHarness;
  before(async () => {
    harness = await startWebhookGateway([
      config("webhook-limit", [webhookSource({ maxMessageBytes: 64 })]),
    ]);
  });
  after(() => harness.cleanup());

  it("responds 413 over maxMessageBytes", async () => {
    const body = JSON.stringify({ "0": { data: { ObjectName: "x".repeat(100) } } });
    const response = await post(harness.url(), body);
    assert.equal(response.status, 413);
    assert.match(String(response.body.error), /maxMessageBytes \(64 bytes\)/);
    assert.equal(await harness.messages("oversize"), 1);
  });
});

describe("webhook authentication", () => {
  let secretsDir: string;
  let harness: WebhookHarness;
  before(async () => {
    secretsDir = await mkdtemp(join(tmpdir(), "webhook-secrets-"));
    const secretDir = join(secretsDir, "reloader", "webhook-auth");
    await mkdir(secretDir, { recursive: true });
    await writeFile(join(secretDir, "username"), "sender");
    await writeFile(join(secretDir, "password"), "s3cret:with-colon");
    await writeFile(join(secretDir, "token"), "token-123");

    const reference = (key: string) => ({ namespace: "reloader", name: "webhook-auth", key });
    harness = await startWebhookGateway(
      [
        config("webhook-auth", [
          webhookSource({
            path: "/basic",
            auth: {
              kind: "basic",
              username: reference("username"),
              password: reference("password"),
            },
          }),
          webhookSource({
            index: 1,
            path: "/bearer",
            auth: { kind: "bearer", token: reference("token") },
          }),
        ]),
      ],
      { secretsDir },
    );
  });
  after(async () => {
    await harness.cleanup();
    await rm(secretsDir, { recursive: true, force: true });
  });

  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  it("rejects missing and wrong basic credentials", async () => {
    for (const authorization of [
      undefined,
      basic("sender", "wrong"),
      basic("other", "s3cret:with-colon"),
      "Bearer token-123",
      `${basic("sender", "s3cret:with-colon")}!!garbage`,
    ]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const response = await post(harness.url(0), STRIPE_DOCUMENT, headers);
      assert.equal(response.status, 401, `status for ${authorization}`);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Basic realm="reloader"/);
    }
    assert.equal(await harness.messages("unauthorized"), 5);
    assert.equal(await harness.messages("accepted"), 0, "no rejected request reaches the handler");
  });

  it("accepts the right basic credentials", async () => {
    const response = await post(harness.url(0), STRIPE_DOCUMENT, {
      authorization: basic("sender", "s3cret:with-colon"),
    });
    assert.equal(response.status, 202);
  });

  it("rejects missing and wrong bearer tokens", async () => {
    for (const authorization of [
      undefined,
      "Bearer token-12",
      "Bearer token-1234",
      basic("sender", "token-123"),
    ]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const response = await post(harness.url(1), STRIPE_DOCUMENT, headers);
      assert.equal(response.status, 401, `status for ${authorization}`);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer realm="reloader"/);
    }
  });

  it("accepts the right bearer token", async () => {
    const response = await post(harness.url(1), STRIPE_DOCUMENT, {
      authorization: "bearer token-123",
    });
    assert.equal(response.status, 202);
  });

  it("fails to start without the credential file", async () => {
    const gateway = new Gateway({
      configs: [
        config("webhook-missing", [
          webhookSource({ auth: { kind: "bearer", token: { name: "absent", key: "token" } } }),
        ]),
      ],
      redisUrl: TEST_REDIS_URL,
      prefix: `webhook-test-${randomUUID()}`,
      logger: createLogger({ name: "webhook-test", level: "silent" }),
      registry: createMetricsRegistry({ processMetrics: false }),
      secretsDir,
    });
    await assert.rejects(gateway.start(), (error: unknown) => {
      assert.ok(error instanceof WebhookCredentialsError);
      assert.match(error.message, /key "token" of Secret absent/);
      assert.ok(error.message.includes(join(secretsDir, "absent", "token")));
      return true;
    });
  });

  it("maps a Secret key to its mounted file", () => {
    assert.equal(
      secretKeyFile("/etc/reloader/secrets", { namespace: "ns", name: "auth", key: "token" }),
      "/etc/reloader/secrets/ns/auth/token",
    );
    assert.equal(
      secretKeyFile("/etc/reloader/secrets", { name: "auth", key: "token" }),
      "/etc/reloader/secrets/auth/token",
    );
  });
});

describe("webhook sources sharing a port", () => {
  let harness: WebhookHarness;
  before(async () => {
    harness = await startWebhookGateway([
      config("team-a", [webhookSource({ path: "/a" })]),
      config("team-b", [webhookSource({ path: "/b" })]),
    ]);
  });
  after(() => harness.cleanup());

  it("routes each path to its Config", async () => {
    const [first, second] = harness.gateway.addresses();
    assert.ok(first, "team-a has an address");
    assert.ok(second, "team-b has an address");
    assert.equal(first.port, second.port, "one HTTP server serves both sources");

    const responseA = await post(harness.url(0, "team-a"), STRIPE_DOCUMENT);
    const responseB = await post(harness.url(0, "team-b"), STRIPE_DOCUMENT);
    assert.equal(responseA.status, 202);
    assert.equal(responseB.status, 202);

    const jobA = await harness.queue.getJob((responseA.body.jobIds as string[])[0] as string);
    const jobB = await harness.queue.getJob((responseB.body.jobIds as string[])[0] as string);
    assert.equal(jobA?.data.configName, "team-a");
    assert.equal(jobB?.data.configName, "team-b");
  });
});

describe("webhook without Redis", () => {
  let harness: WebhookHarness;
  before(async () => {
    const closedPort = await freePort();
    harness = await startWebhookGateway([config("webhook-down", [webhookSource()])], {
      redisUrl: `redis://127.0.0.1:${closedPort}`,
      webhookEnqueueTimeoutMs: 500,
    });
  });
  after(() => harness.cleanup());

  it("responds 503 with Retry-After", async () => {
    const response = await post(harness.url(), STRIPE_DOCUMENT);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "5");
    assert.match(String(response.body.error), /retry in 5 s/);
    assert.equal(await harness.messages("unavailable"), 1);
    assert.match(
      harness.gateway.readinessProblems().join("; "),
      /Redis is not reachable \(connection status: /,
    );
  });
});

describe("webhook listen failure", () => {
  let blocker: Server;
  let port: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: 0 }, resolve));
    port = (blocker.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it("names the address in a ListenError", async () => {
    const gateway = new Gateway({
      configs: [config("webhook-busy", [webhookSource({ port })])],
      redisUrl: TEST_REDIS_URL,
      prefix: `webhook-test-${randomUUID()}`,
      logger: createLogger({ name: "webhook-test", level: "silent" }),
      registry: createMetricsRegistry({ processMetrics: false }),
    });
    await assert.rejects(gateway.start(), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(error.code, "EADDRINUSE");
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(error.message, /webhook\.address/);
      return true;
    });
  });
});
