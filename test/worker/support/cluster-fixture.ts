import { readFile } from "node:fs/promises";

import { parseAllDocuments } from "yaml";

import type { ExternalSecretObject } from "../../../worker/external-secret.js";
import { fixturePath } from "../../support/fixtures.js";

/** The objects of `test/fixtures/cluster.yaml`, split by kind. */
export interface ClusterFixture {
  readonly namespaces: ReadonlyArray<{
    metadata: { name: string; labels?: Record<string, string> };
  }>;
  readonly externalSecrets: readonly ExternalSecretObject[];
}

/** Reads `test/fixtures/cluster.yaml`. */
export async function loadClusterFixture(): Promise<ClusterFixture> {
  const text = await readFile(fixturePath("cluster.yaml"), "utf8");
  const objects = parseAllDocuments(text).map(
    (document) => document.toJS() as ExternalSecretObject,
  );

  return {
    namespaces: objects.filter(
      (object) => object.kind === "Namespace",
    ) as ClusterFixture["namespaces"],
    externalSecrets: objects.filter((object) => object.kind === "ExternalSecret"),
  };
}
