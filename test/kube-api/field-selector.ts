import { SelectorSyntaxError } from "./label-selector.js";
import type { JsonObject } from "./json-value.js";

/** One term of a field selector, e.g. `metadata.name!=stripe`. */
export interface FieldRequirement {
  field: string;
  operator: "equals" | "notEquals";
  value: string;
}

/** Splits on a separator that is not escaped with a backslash, and removes the escapes. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";

  for (let index = 0; index < text.length; index += 1) {
    const char = text.charAt(index);
    if (char === "\\" && index + 1 < text.length) {
      current += text.charAt(index + 1);
      index += 1;
    } else if (char === separator) {
      parts.push(current);
      current = "";
    } else {
      current += char;
    }
  }

  parts.push(current);
  return parts;
}

function parseTerm(term: string, selector: string): FieldRequirement {
  const match = /^([^!=]+)(==|!=|=)(.*)$/.exec(term);
  if (match === null) {
    throw new SelectorSyntaxError(
      `invalid field selector "${selector}": "${term}" is not of the form field=value, field==value or field!=value`,
    );
  }

  const [, field = "", operator, value = ""] = match;
  return { field: field.trim(), operator: operator === "!=" ? "notEquals" : "equals", value };
}

/**
 * Parses a field selector (`metadata.name=x,metadata.namespace!=y`) and checks each field against
 * the ones the resource supports. Throws SelectorSyntaxError naming the field and the supported ones.
 */
export function parseFieldSelector(
  selector: string,
  supportedFields: readonly string[],
): FieldRequirement[] {
  if (selector.trim() === "") {
    return [];
  }

  const requirements = splitUnescaped(selector, ",").map((term) => parseTerm(term, selector));
  for (const requirement of requirements) {
    if (!supportedFields.includes(requirement.field)) {
      throw new SelectorSyntaxError(
        `field label not supported: ${requirement.field} (supported: ${supportedFields.join(", ")})`,
      );
    }
  }
  return requirements;
}

function fieldValue(object: JsonObject, path: string): string {
  let current: unknown = object;
  for (const segment of path.split(".")) {
    current =
      typeof current === "object" && current !== null
        ? (current as Record<string, unknown>)[segment]
        : undefined;
  }
  return typeof current === "string" ? current : "";
}

/** Reports whether an object satisfies every field requirement. A missing field reads as "". */
export function matchesFields(
  requirements: readonly FieldRequirement[],
  object: JsonObject,
): boolean {
  return requirements.every((requirement) => {
    const actual = fieldValue(object, requirement.field);
    return requirement.operator === "equals"
      ? actual === requirement.value
      : actual !== requirement.value;
  });
}
