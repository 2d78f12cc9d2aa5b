import { cloneJson, isJsonObject, type JsonValue } from "./json-value.js";

/**
 * Applies a JSON merge patch (RFC 7386): objects merge recursively, `null` removes a key, and
 * any other value, arrays included, replaces the target. Returns a new value.
 */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) {
    return cloneJson(patch);
  }

  const result = isJsonObject(target) ? cloneJson(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = applyMergePatch(result[key], value);
    }
  }
  return result;
}

/**
 * Removes strategic merge patch directives (`$patch`, `$retainKeys`, `$setElementOrder/...`,
 * `$deleteFromPrimitiveList/...`) so the rest of the patch can be applied as a merge patch.
 */
export function stripStrategicDirectives(patch: JsonValue): JsonValue {
  if (Array.isArray(patch)) {
    return patch.map(stripStrategicDirectives);
  }
  if (!isJsonObject(patch)) {
    return patch;
  }

  const result: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith("$")) {
      result[key] = stripStrategicDirectives(value);
    }
  }
  return result;
}
