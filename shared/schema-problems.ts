import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { ConfigProblem } from "./errors.js";

/**
 * Converts a JSON pointer such as `/spec/notificationSources/0/tcpSocket/port` into the
 * field path operators read in kubectl output: `spec.notificationSources[0].tcpSocket.port`.
 */
export function fieldPath(pointer: string, prefix = ""): string {
  let path = prefix;
  for (const rawPart of pointer.split("/").slice(1)) {
    const part = rawPart.replaceAll("~1", "/").replaceAll("~0", "~");
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else path += path === "" ? part : `.${part}`;
  }
  return path === "" ? "(document)" : path;
}

/** Renders a received value for an error message, short enough for one line. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function describeExpectation(schema: TSchema, value: unknown): string {
  if (schema.type === "integer" || schema.type === "number") {
    const kind = schema.type === "integer" ? "an integer" : "a number";
    if (schema.minimum !== undefined && schema.maximum !== undefined) {
      return `must be ${kind} from ${schema.minimum} to ${schema.maximum}`;
    }
    return `must be ${kind}`;
  }

  if (Array.isArray(schema.anyOf) && schema.anyOf.every((member) => "const" in member)) {
    const choices = schema.anyOf.map((member) => String(member.const)).join(", ");
    return `must be one of ${choices}`;
  }

  if ("const" in schema) return `must be ${JSON.stringify(schema.const)}`;

  if (schema.type === "string") {
    if (typeof value !== "string") return "must be a string";
    if (value.length > 0 && schema.pattern !== undefined) {
      return `must match the pattern ${schema.pattern}`;
    }
    return "must not be empty";
  }

  if (schema.type === "boolean") return "must be true or false";

  if (schema.type === "array") {
    return Array.isArray(value)
      ? `must list at least ${schema.minItems} item(s)`
      : "must be a list";
  }

  if (schema.type === "object") return "must be a mapping";
  return "is not valid";
}

/**
 * Lists every schema violation in `value`, one problem per field, each naming what was
 * expected and what arrived. Unknown fields are reported with the names that are allowed,
 * so a typo is caught instead of silently ignored.
 */
export function schemaProblems(schema: TSchema, value: unknown, prefix = ""): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();

  for (const error of Value.Errors(schema, value)) {
    const path = fieldPath(error.path, prefix);
    if (seen.has(path)) continue;
    seen.add(path);

    if (error.value === undefined) {
      problems.push({ path, message: "is required" });
    } else if (error.message === "Unexpected property") {
      const allowed = Object.keys(error.schema.properties ?? {}).join(", ");
      problems.push({ path, message: `unknown field; expected one of ${allowed}` });
    } else {
      const expectation = describeExpectation(error.schema, error.value);
      problems.push({ path, message: `${expectation}, got ${describeValue(error.value)}` });
    }
  }

  return problems;
}
