import { badRequest } from "./api-status.js";
import { parseFieldSelector, type FieldRequirement } from "./field-selector.js";
import { parseLabelSelector, SelectorSyntaxError, type LabelSelector } from "./label-selector.js";
import type { ResourceType } from "./resource-types.js";

/** The query parameters of a resource request, parsed and checked. */
export interface QueryOptions {
  watch: boolean;
  dryRun: boolean;
  fieldManager?: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldRequirement[];
  resourceVersion?: string;
  limit?: number;
  continueToken?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks: boolean;
  sendInitialEvents?: boolean;
  pretty: boolean;
}

const maxFieldManagerLength = 128;

/** Parses a boolean the way Go's strconv.ParseBool does, which the API server uses for query flags. */
function parseBool(name: string, value: string | null): boolean | undefined {
  if (value === null) {
    return undefined;
  }
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) {
    return true;
  }
  if (["0", "f", "F", "false", "FALSE", "False", ""].includes(value)) {
    return false;
  }
  throw badRequest(
    `invalid value for query parameter ${name}: "${value}" is not a boolean; use true or false`,
  );
}

function parseNonNegativeInteger(name: string, value: string | null): number | undefined {
  if (value === null || value === "") {
    return undefined;
  }
  if (!/^\d+$/.test(value)) {
    throw badRequest(
      `invalid value for query parameter ${name}: "${value}" is not a non-negative integer`,
    );
  }
  return Number(value);
}

function parseDryRun(params: URLSearchParams): boolean {
  const values = params.getAll("dryRun");
  for (const value of values) {
    if (value !== "All") {
      throw badRequest(`invalid dryRun value "${value}": the only supported value is All`);
    }
  }
  return values.length > 0;
}

function parseSelectors(
  params: URLSearchParams,
  type: ResourceType,
): Pick<QueryOptions, "labelSelector" | "fieldSelector"> {
  const selectableFields = ["metadata.name", "metadata.namespace", ...type.extraSelectableFields];
  try {
    return {
      labelSelector: parseLabelSelector(params.get("labelSelector") ?? ""),
      fieldSelector: parseFieldSelector(params.get("fieldSelector") ?? "", selectableFields),
    };
  } catch (error) {
    if (error instanceof SelectorSyntaxError) {
      throw badRequest(error.message);
    }
    throw error;
  }
}

/** Parses and checks the query parameters the emulator supports. Others are ignored, as the API server ignores them. */
export function parseQueryOptions(params: URLSearchParams, type: ResourceType): QueryOptions {
  const fieldManager = params.get("fieldManager") ?? undefined;
  if (fieldManager !== undefined && fieldManager.length > maxFieldManagerLength) {
    throw badRequest(
      `fieldManager must not be longer than ${maxFieldManagerLength} characters, got ${fieldManager.length}`,
    );
  }

  const options: QueryOptions = {
    watch: parseBool("watch", params.get("watch")) ?? false,
    dryRun: parseDryRun(params),
    ...parseSelectors(params, type),
    allowWatchBookmarks:
      parseBool("allowWatchBookmarks", params.get("allowWatchBookmarks")) ?? false,
    pretty: parseBool("pretty", params.get("pretty")) ?? false,
  };

  const optional = {
    fieldManager,
    resourceVersion: params.get("resourceVersion") ?? undefined,
    limit: parseNonNegativeInteger("limit", params.get("limit")),
    continueToken: params.get("continue") || undefined,
    timeoutSeconds: parseNonNegativeInteger("timeoutSeconds", params.get("timeoutSeconds")),
    sendInitialEvents: parseBool("sendInitialEvents", params.get("sendInitialEvents")),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) {
      Object.assign(options, { [key]: value });
    }
  }
  return options;
}
