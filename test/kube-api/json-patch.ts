import { cloneJson, isJsonObject, jsonEqual, type JsonValue } from "./json-value.js";

/** One operation of a JSON patch (RFC 6902). */
export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: JsonValue;
}

/** Thrown when a JSON patch document is malformed, so nothing can be applied (HTTP 400). */
export class JsonPatchFormatError extends Error {
  override name = "JsonPatchFormatError";
}

/** Thrown when a well-formed operation cannot be applied to the target, e.g. a failed `test` (HTTP 422). */
export class JsonPatchApplyError extends Error {
  override name = "JsonPatchApplyError";
}

const operationNames = new Set(["add", "remove", "replace", "move", "copy", "test"]);

/** Checks the shape of a decoded JSON patch and returns its operations. */
export function parseJsonPatch(document: unknown): JsonPatchOperation[] {
  if (!Array.isArray(document)) {
    throw new JsonPatchFormatError("a JSON patch must be a JSON array of operations");
  }

  return document.map((entry, index) => {
    if (
      !isJsonObject(entry) ||
      typeof entry["op"] !== "string" ||
      !operationNames.has(entry["op"])
    ) {
      throw new JsonPatchFormatError(
        `operation ${index}: "op" must be one of add, remove, replace, move, copy, test`,
      );
    }
    if (typeof entry["path"] !== "string") {
      throw new JsonPatchFormatError(
        `operation ${index} (${entry["op"]}): "path" must be a string`,
      );
    }
    const needsFrom = entry["op"] === "move" || entry["op"] === "copy";
    if (needsFrom && typeof entry["from"] !== "string") {
      throw new JsonPatchFormatError(
        `operation ${index} (${entry["op"]}): "from" must be a string`,
      );
    }
    const needsValue = entry["op"] === "add" || entry["op"] === "replace" || entry["op"] === "test";
    if (needsValue && !("value" in entry)) {
      throw new JsonPatchFormatError(`operation ${index} (${entry["op"]}): "value" is missing`);
    }
    return entry as unknown as JsonPatchOperation;
  });
}

/** Splits a JSON pointer (RFC 6901) into unescaped reference tokens. */
function parsePointer(pointer: string): string[] {
  if (pointer === "") {
    return [];
  }
  if (!pointer.startsWith("/")) {
    throw new JsonPatchApplyError(`JSON pointer "${pointer}" must be empty or start with "/"`);
  }
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function arrayIndex(token: string, array: JsonValue[], allowEnd: boolean, pointer: string): number {
  if (allowEnd && token === "-") {
    return array.length;
  }
  const limit = allowEnd ? array.length : array.length - 1;
  if (!/^(0|[1-9]\d*)$/.test(token) || Number(token) > limit) {
    throw new JsonPatchApplyError(
      `array index "${token}" in "${pointer}" is out of range 0..${limit}`,
    );
  }
  return Number(token);
}

/** Returns the container that the last token of a pointer refers into, and that token. */
function resolveParent(root: JsonValue, pointer: string): { parent: JsonValue; token: string } {
  const tokens = parsePointer(pointer);
  const token = tokens.pop();
  if (token === undefined) {
    throw new JsonPatchApplyError('the root "" cannot be the target of this operation');
  }

  let parent = root;
  for (const step of tokens) {
    if (Array.isArray(parent)) {
      parent = parent[arrayIndex(step, parent, false, pointer)] as JsonValue;
    } else if (isJsonObject(parent) && Object.hasOwn(parent, step)) {
      parent = parent[step] as JsonValue;
    } else {
      throw new JsonPatchApplyError(`path "${pointer}" does not exist: no "${step}"`);
    }
  }
  return { parent, token };
}

function getValue(root: JsonValue, pointer: string): JsonValue {
  if (pointer === "") {
    return root;
  }
  const { parent, token } = resolveParent(root, pointer);
  if (Array.isArray(parent)) {
    return parent[arrayIndex(token, parent, false, pointer)] as JsonValue;
  }
  if (isJsonObject(parent) && Object.hasOwn(parent, token)) {
    return parent[token] as JsonValue;
  }
  throw new JsonPatchApplyError(`path "${pointer}" does not exist`);
}

function addValue(root: JsonValue, pointer: string, value: JsonValue): JsonValue {
  if (pointer === "") {
    return value;
  }
  const { parent, token } = resolveParent(root, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(token, parent, true, pointer), 0, value);
  } else if (isJsonObject(parent)) {
    parent[token] = value;
  } else {
    throw new JsonPatchApplyError(
      `path "${pointer}" points into a scalar, which cannot contain members`,
    );
  }
  return root;
}

function removeValue(root: JsonValue, pointer: string): JsonValue {
  const { parent, token } = resolveParent(root, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(token, parent, false, pointer), 1);
  } else if (isJsonObject(parent) && Object.hasOwn(parent, token)) {
    delete parent[token];
  } else {
    throw new JsonPatchApplyError(`path "${pointer}" does not exist, so it cannot be removed`);
  }
  return root;
}

function applyOperation(root: JsonValue, operation: JsonPatchOperation): JsonValue {
  const value = cloneJson(operation.value ?? null);
  const from = operation.from ?? "";

  switch (operation.op) {
    case "add":
      return addValue(root, operation.path, value);
    case "remove":
      return removeValue(root, operation.path);
    case "replace":
      getValue(root, operation.path);
      return operation.path === ""
        ? value
        : addValue(removeValue(root, operation.path), operation.path, value);
    case "move": {
      if (operation.path !== from && operation.path.startsWith(`${from}/`)) {
        throw new JsonPatchApplyError(
          `cannot move "${from}" into its own child "${operation.path}"`,
        );
      }
      const moved = getValue(root, from);
      return addValue(removeValue(root, from), operation.path, moved);
    }
    case "copy":
      return addValue(root, operation.path, cloneJson(getValue(root, from)));
    case "test":
      if (!jsonEqual(getValue(root, operation.path), value)) {
        throw new JsonPatchApplyError(
          `test operation failed: the value at "${operation.path}" is not ${JSON.stringify(value)}`,
        );
      }
      return root;
  }
}

/**
 * Applies JSON patch operations (RFC 6902) in order to a copy of the target. Throws
 * JsonPatchApplyError naming the operation and path that failed. The target is left unchanged.
 */
export function applyJsonPatch(
  target: JsonValue,
  operations: readonly JsonPatchOperation[],
): JsonValue {
  let result = cloneJson(target);
  operations.forEach((operation, index) => {
    try {
      result = applyOperation(result, operation);
    } catch (error) {
      if (error instanceof JsonPatchApplyError) {
        throw new JsonPatchApplyError(
          `operation ${index} (${operation.op} ${operation.path}): ${error.message}`,
        );
      }
      throw error;
    }
  });
  return result;
}
