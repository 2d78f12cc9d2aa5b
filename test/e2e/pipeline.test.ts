import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fixturePath } from "../support/fixtures.js";
import { metricValue, startPipeline, type Pipeline } from "../support/pipeline.js";

const ALL_EXTERNAL_SECRETS = [
  "payments/db-credentials",
  "payments/stripe",
  "payments/unrelated",
  "sandbox/db-credentials",
  "web/all-app-secrets",
  "web/rendered-config",
];

/** One input file and the number of patches each ExternalSecret must receive from it. */
interface Case {
  readonly input: string;
  readonly identifiers: number;
  readonly patches: Record<string, number>;
}

const DB_PASSWORD_TARGETS = {
  "payments/db-credentials": 1,
  "sandbox/db-credentials": 1,
  "web/all-app-secrets": 1,
};

/** Counts patch sightings per `namespace/name` since index `from`. */
function patchCounts(pipeline: Pipeline, from: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sighting of pipeline.sightings.slice(from)) {
    const key = `${sighting.namespace}/${sighting.name}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function annotationsOf(pipeline: Pipeline, target: string): Record<string, string> {
  const [namespace, name] = target.split("/") as [string, string];
  const object = pipeline.emulator.store.get("externalsecrets", namespace, name);
  assert.ok(object, `${target} is missing from the emulator`);
  return object.metadata.annotations ?? {};
}

/** Sends each case in order and checks exactly which ExternalSecrets it reached. */
async function runCases(pipeline: Pipeline, cases: readonly Case[]): Promise<Set<string>> {
  const touched = new Set<string>();
  let rotations = 0;
  let patches = 0;

  for (const testCase of cases) {
    const from = pipeline.sightings.length;
    await pipeline.send(await readFile(fixturePath(testCase.input)));

    rotations += testCase.identifiers;
    patches += Object.values(testCase.patches).reduce((sum, count) => sum + count, 0);
    await pipeline.waitForCompleted(rotations, patches);

    assert.deepEqual(patchCounts(pipeline, from), testCase.patches, `targets of ${testCase.input}`);
    for (const target of Object.keys(testCase.patches)) touched.add(target);
  }
  return touched;
}

function assertAnnotations(
  pipeline: Pipeline,
  touched: Set<string>,
  sourceType = "TCPSocket",
): void {
  for (const target of ALL_EXTERNAL_SECRETS) {
    const annotations = annotationsOf(pipeline, target);
    if (touched.has(target)) {
      assert.match(
        annotations["reloader/last-rotated"] ?? "",
        /^\d{4}-\d\d-\d\dT[\d:.]+Z$/,
        target,
      );
      assert.ok(
        (annotations["reloader/trigger-source"] ?? "").startsWith(`${sourceType}/`),
        `${target} trigger source: ${annotations["reloader/trigger-source"]}`,
      );
    } else {
      assert.equal(annotations["reloader/last-rotated"], undefined, `${target} must be untouched`);
      assert.equal(
        annotations["reloader/trigger-source"],
        undefined,
        `${target} must be untouched`,
      );
    }
  }
}

describe("pipeline with the default config", () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await startPipeline("config-default.yaml");
  });
  after(async () => {
    const codes = await pipeline.stop();
    assert.deepEqual(codes, { gateway: 0, worker: 0 }, "both tiers exit 0 on SIGTERM");
  });

  it("patches the expected targets of each input", { timeout: 60_000 }, async () => {
    const touched = await runCases(pipeline, [
      { input: "one.ndjson", identifiers: 1, patches: DB_PASSWORD_TARGETS },
      { input: "pretty.json", identifiers: 1, patches: { "payments/stripe": 1 } },
      {
        input: "mixed-stream.bin",
        identifiers: 5,
        patches: { "web/rendered-config": 3, ...DB_PASSWORD_TARGETS },
      },
    ]);

    assertAnnotations(pipeline, touched);
    assert.ok(!touched.has("payments/unrelated"), "an exact key never matches a longer key");
  });

  it("counts the rejected documents of the mixed stream", { timeout: 60_000 }, async () => {
    const metrics = await pipeline.gatewayMetrics();
    const count = (result: string) =>
      metricValue(metrics, "reloader_gateway_messages_total", { config: "tcp-default", result });

    assert.equal(count("accepted"), 7);
    assert.equal(count("invalid_json"), 1);
    assert.equal(count("not_string"), 1);
    assert.equal(count("missing_identifier"), 1);
  });

  it("sends merge patches with a field manager", () => {
    const patches = pipeline.emulator.requests.list((request) => request.method === "PATCH");
    assert.equal(patches.length, 10);
    for (const request of patches) {
      assert.equal(request.contentType, "application/merge-patch+json");
      assert.equal(request.query.fieldManager, "secret-rotation-gateway");
    }
  });
});

describe("pipeline with the selective config", () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await startPipeline("config-selective.yaml");
  });
  after(async () => {
    const codes = await pipeline.stop();
    assert.deepEqual(codes, { gateway: 0, worker: 0 }, "both tiers exit 0 on SIGTERM");
  });

  it("patches only the selected targets", { timeout: 60_000 }, async () => {
    const touched = await runCases(pipeline, [
      { input: "one.ndjson", identifiers: 1, patches: { "payments/db-credentials": 1 } },
      { input: "pretty.json", identifiers: 1, patches: {} },
    ]);

    assertAnnotations(pipeline, touched);
  });
});

describe("pipeline with the vault config", () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await startPipeline("config-vault.yaml");
  });
  after(async () => {
    const codes = await pipeline.stop();
    assert.deepEqual(codes, { gateway: 0, worker: 0 }, "both tiers exit 0 on SIGTERM");
  });

  it("patches the targets of the KV writes", { timeout: 60_000 }, async () => {
    const touched = await runCases(pipeline, [
      {
        input: "vault-audit-stream.ndjson",
        identifiers: 3,
        patches: {
          "payments/db-credentials": 1,
          "sandbox/db-credentials": 1,
          "web/all-app-secrets": 2,
          "payments/stripe": 1,
        },
      },
    ]);

    assertAnnotations(pipeline, touched, "HashicorpVault");
  });

  it("counts the ignored audit entries", async () => {
    const metrics = await pipeline.gatewayMetrics();
    const count = (result: string) =>
      metricValue(metrics, "reloader_gateway_messages_total", { config: "vault-audit", result });

    assert.equal(count("accepted"), 3);
    assert.equal(count("ignored"), 4);
    assert.equal(count("invalid_json"), 0);
    assert.equal(count("missing_identifier"), 0);
  });
});

describe("pipeline with the webhook config", () => {
  let pipeline: Pipeline;
  before(async () => {
    pipeline = await startPipeline("config-webhook.yaml");
  });
  after(async () => {
    const codes = await pipeline.stop();
    assert.deepEqual(codes, { gateway: 0, worker: 0 }, "both tiers exit 0 on SIGTERM");
  });

  it("patches the target of a POST", { timeout: 60_000 }, async () => {
    // rewriteConfig gives the Webhook source the port that TCP sources get.
    const response = await fetch(`http://127.0.0.1:${pipeline.tcpPort}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "0": { data: { ObjectName: "payments/stripe-key" } } }),
    });
    assert.equal(response.status, 202);
    const body = (await response.json()) as { jobIds: string[] };
    assert.equal(body.jobIds.length, 1);

    await pipeline.waitForCompleted(1, 1);
    assert.deepEqual(patchCounts(pipeline, 0), { "payments/stripe": 1 });
    assertAnnotations(pipeline, new Set(["payments/stripe"]), "Webhook");
  });

  it("counts the accepted request", async () => {
    const metrics = await pipeline.gatewayMetrics();
    const labels = { config: "webhook-default", result: "accepted" };
    assert.equal(metricValue(metrics, "reloader_gateway_messages_total", labels), 1);
  });
});
