import { readFile } from "node:fs/promises";

import { LineCounter, parseAllDocuments } from "yaml";

import { ApiError } from "./api-status.js";
import { isJsonObject, type JsonObject } from "./json-value.js";
import type { KubeObject } from "./kube-object.js";
import type { ObjectStore } from "./object-store.js";
import { apiVersionOf, type ResourceRegistry, type ResourceType } from "./resource-types.js";

/** Thrown for a fixture file that cannot be loaded. The message names the file, document and line. */
export class FixtureError extends Error {
  override name = "FixtureError";
}

/** One object of a fixture file with where it came from. */
export interface FixtureObject {
  type: ResourceType;
  object: JsonObject;
  /** Where the object starts, as `file: document N (line L)`. */
  origin: string;
}

function servedKinds(registry: ResourceRegistry): string {
  return registry
    .types()
    .map((type) => `${type.kind} (${apiVersionOf(type)})`)
    .join(", ");
}

function toFixtureObject(
  registry: ResourceRegistry,
  value: unknown,
  origin: string,
): FixtureObject {
  if (!isJsonObject(value)) {
    throw new FixtureError(
      `${origin}: a document must be a mapping with apiVersion, kind and metadata`,
    );
  }

  const { apiVersion, kind } = value;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    throw new FixtureError(`${origin}: apiVersion and kind must both be set as strings`);
  }

  const type = registry.findByKind(apiVersion, kind);
  if (type === undefined) {
    throw new FixtureError(
      `${origin}: kind "${kind}" with apiVersion "${apiVersion}" is not served by the emulator; ` +
        `served kinds: ${servedKinds(registry)}. Register the resource type with the resourceTypes option.`,
    );
  }

  const metadata = value["metadata"];
  const namespace = isJsonObject(metadata) ? metadata["namespace"] : undefined;
  if (type.namespaced && (typeof namespace !== "string" || namespace === "")) {
    throw new FixtureError(`${origin}: ${kind} is namespaced, so metadata.namespace must be set`);
  }
  return { type, object: value, origin };
}

/**
 * Parses a multi-document YAML text into objects of served kinds. A `kind: List` document
 * contributes its items. Empty documents are skipped. Throws FixtureError for invalid YAML and
 * for objects of kinds the registry does not serve, before anything is stored.
 */
export function parseFixture(
  registry: ResourceRegistry,
  text: string,
  file: string,
): FixtureObject[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter });
  const objects: FixtureObject[] = [];

  documents.forEach((document, index) => {
    const start = document.contents?.range[0] ?? document.range[0];
    const origin = `${file}: document ${index + 1} (line ${lineCounter.linePos(start).line})`;
    const [error] = document.errors;
    if (error !== undefined) {
      throw new FixtureError(`${origin}: invalid YAML: ${error.message}`);
    }

    const value: unknown = document.toJS();
    if (value === null || value === undefined) {
      return;
    }
    if (isJsonObject(value) && value["kind"] === "List" && Array.isArray(value["items"])) {
      value["items"].forEach((item, itemIndex) =>
        objects.push(toFixtureObject(registry, item, `${origin} item ${itemIndex}`)),
      );
      return;
    }
    objects.push(toFixtureObject(registry, value, origin));
  });

  return objects;
}

/**
 * Creates fixture objects in the store, cluster-scoped ones (such as Namespaces) first so the
 * namespaced ones find their namespace. `.status` is kept as written. Throws FixtureError naming
 * the object's origin when the store rejects it, e.g. because it already exists. The objects
 * created before that one stay in the store.
 */
export function storeFixtureObjects(
  store: ObjectStore,
  objects: readonly FixtureObject[],
): KubeObject[] {
  const ordered = [
    ...objects.filter((entry) => !entry.type.namespaced),
    ...objects.filter((entry) => entry.type.namespaced),
  ];

  return ordered.map((entry) => {
    const metadata = entry.object["metadata"];
    const namespace =
      entry.type.namespaced && isJsonObject(metadata) ? String(metadata["namespace"]) : "";
    try {
      return store.create(entry.type, namespace, entry.object, { keepStatus: true });
    } catch (error) {
      if (error instanceof ApiError) {
        throw new FixtureError(
          `${entry.origin}: the emulator rejected the object (${error.code} ${error.reason}): ${error.message}`,
        );
      }
      throw error;
    }
  });
}

/** Reads a multi-document YAML file and creates its objects in the store. Returns the stored objects. */
export async function loadFixtureFile(store: ObjectStore, file: string): Promise<KubeObject[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new FixtureError(`cannot read fixture file ${file}: ${(error as Error).message}`);
  }
  return storeFixtureObjects(store, parseFixture(store.registry, text, file));
}
