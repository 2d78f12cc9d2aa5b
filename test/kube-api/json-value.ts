/** A value that JSON can represent. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A JSON object with string keys. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Reports whether a value is a JSON object, as opposed to an array, null or a scalar. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Compares two JSON values structurally, ignoring the order of object keys. */
export function jsonEqual(left: unknown, right: unknown): boolean {
  if (left === right) {
    return true;
  }

  if (Array.isArray(left) && Array.isArray(right)) {
    return (
      left.length === right.length && left.every((item, index) => jsonEqual(item, right[index]))
    );
  }

  if (isJsonObject(left) && isJsonObject(right)) {
    const leftKeys = Object.keys(left);
    if (leftKeys.length !== Object.keys(right).length) {
      return false;
    }
    return leftKeys.every((key) => key in right && jsonEqual(left[key], right[key]));
  }

  return false;
}

/** Returns a deep copy of a JSON value. */
export function cloneJson<T>(value: T): T {
  return structuredClone(value);
}
