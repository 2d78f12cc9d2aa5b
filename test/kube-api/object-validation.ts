import { isJsonObject } from "./json-value.js";
import type { StatusCause } from "./api-status.js";
import type { NameRule } from "./resource-types.js";

// Formats and messages follow k8s.io/apimachinery/pkg/util/validation.
const dnsLabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNamePattern = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const maxLabelValueLength = 63;
const maxAnnotationsBytes = 256 * 1024;

/** Returns why a name breaks the rule, or undefined when it is valid. */
export function nameError(name: string, rule: NameRule): string | undefined {
  if (rule === "dns-label") {
    if (name.length > 63 || !dnsLabelPattern.test(name)) {
      return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (max 63 characters)";
    }
    return undefined;
  }

  if (name.length > 253 || !dnsSubdomainPattern.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (max 253 characters)";
  }
  return undefined;
}

/** Returns why a label or annotation key is not a qualified name (`[prefix/]name`), or undefined. */
export function labelKeyError(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) {
    return "a qualified name must have at most one '/'";
  }

  const name = parts.length === 2 ? (parts[1] ?? "") : key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (prefix.length === 0 || nameError(prefix, "dns-subdomain") !== undefined) {
      return 'the prefix before "/" must be a lowercase DNS subdomain';
    }
  }

  if (name.length === 0 || name.length > 63 || !qualifiedNamePattern.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (max 63 characters)";
  }
  return undefined;
}

/** Returns why a label value is invalid, or undefined. The empty string is a valid value. */
export function labelValueError(value: string): string | undefined {
  if (value === "") {
    return undefined;
  }
  if (value.length > maxLabelValueLength || !qualifiedNamePattern.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (max 63 characters)";
  }
  return undefined;
}

function stringMapCauses(
  field: string,
  value: unknown,
  checkValue: ((value: string) => string | undefined) | undefined,
): StatusCause[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (!isJsonObject(value)) {
    return [
      {
        reason: "FieldValueInvalid",
        field,
        message: "Invalid value: must be a map of string keys to string values",
      },
    ];
  }

  const causes: StatusCause[] = [];
  for (const [key, entry] of Object.entries(value)) {
    const keyError = labelKeyError(key);
    if (keyError !== undefined) {
      causes.push({
        reason: "FieldValueInvalid",
        field,
        message: `Invalid value: "${key}": ${keyError}`,
      });
    }
    if (typeof entry !== "string") {
      causes.push({
        reason: "FieldValueInvalid",
        field: `${field}.${key}`,
        message: "Invalid value: must be a string",
      });
      continue;
    }
    const valueError = checkValue?.(entry);
    if (valueError !== undefined) {
      causes.push({
        reason: "FieldValueInvalid",
        field: `${field}.${key}`,
        message: `Invalid value: "${entry}": ${valueError}`,
      });
    }
  }
  return causes;
}

/**
 * Validates the metadata fields that the API server checks for every resource: the name, the
 * label keys and values, the annotation keys and the total annotation size.
 */
export function metadataCauses(metadata: Record<string, unknown>, rule: NameRule): StatusCause[] {
  const causes: StatusCause[] = [];

  const name = metadata["name"];
  if (typeof name !== "string" || name === "") {
    causes.push({
      reason: "FieldValueRequired",
      field: "metadata.name",
      message: "Required value: name or generateName is required",
    });
  } else {
    const error = nameError(name, rule);
    if (error !== undefined) {
      causes.push({
        reason: "FieldValueInvalid",
        field: "metadata.name",
        message: `Invalid value: "${name}": ${error}`,
      });
    }
  }

  causes.push(...stringMapCauses("metadata.labels", metadata["labels"], labelValueError));
  causes.push(...stringMapCauses("metadata.annotations", metadata["annotations"], undefined));

  const annotationsBytes = Buffer.byteLength(JSON.stringify(metadata["annotations"] ?? {}));
  if (annotationsBytes > maxAnnotationsBytes) {
    causes.push({
      reason: "FieldValueTooLong",
      field: "metadata.annotations",
      message: `Too long: must have at most ${maxAnnotationsBytes} bytes`,
    });
  }

  return causes;
}
