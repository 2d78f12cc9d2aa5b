import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { entryPoint } from "../../launcher/tier-process.js";
import { parseConfigText } from "../../shared/config-loader.js";
import { projectRoot } from "../support/fixtures.js";

const run = promisify(execFile);

const MANIFESTS = join(projectRoot(), "infra", "kubernetes");

interface Manifest {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  spec?: {
    template?: {
      spec?: { containers?: Array<{ args?: string[]; env?: Array<{ name: string }> }> };
    };
  };
}

async function manifests(file: string): Promise<Manifest[]> {
  const text = await readFile(join(MANIFESTS, file), "utf8");
  return parseAllDocuments(text).map((document) => document.toJSON() as Manifest);
}

/** Returns the environment variables and entry point of a Deployment's first container. */
async function deploymentContainer(file: string): Promise<{ entry: string; env: string[] }> {
  const deployment = (await manifests(file)).find((item) => item.kind === "Deployment");
  const container = deployment?.spec?.template?.spec?.containers?.[0];
  assert.ok(container, `${file} has no Deployment container`);
  const entry = container.args?.[0]?.replace(/^dist\//, "");
  assert.ok(entry, `${file} names no entry point in args`);
  return { entry, env: (container.env ?? []).map((variable) => variable.name) };
}

describe("Kubernetes manifests", () => {
  for (const file of ["gateway.yaml", "worker.yaml"]) {
    it(`${file} sets only variables its tier reads`, async () => {
      const { entry, env } = await deploymentContainer(file);
      const { stdout } = await run(process.execPath, [entryPoint(entry), "--help"]);

      assert.ok(env.length > 0, `${file} sets no variables`);
      for (const name of env) {
        assert.ok(stdout.includes(`(env ${name})`), `${entry} --help lists ${name}`);
      }
    });
  }

  it("config.yaml holds a Config that loads", async () => {
    const configMap = (await manifests("config.yaml")).find((item) => item.kind === "ConfigMap");
    const text = configMap?.data?.["config.yaml"];
    assert.ok(text, "config.yaml has no ConfigMap with a config.yaml key");

    const [config] = parseConfigText(text, "infra/kubernetes/config.yaml");
    assert.equal(config?.name, "tcp-default");
    assert.equal(config?.sources.length, 1);
  });
});
