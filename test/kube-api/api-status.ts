import type { ResourceType } from "./resource-types.js";

/** One entry of `details.causes` in a Kubernetes Status. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** The `details` of a Kubernetes Status. As from the API server, `kind` is the resource plural. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A `meta.k8s.io/v1` Status object as the API server writes it in error responses. */
export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** The Status reason the API server uses for each HTTP code, when nothing more specific applies. */
const reasonByCode: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Gone",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Returns the Status reason the API server sends with an HTTP code, or `Unknown`. */
export function reasonForCode(code: number): string {
  return reasonByCode[code] ?? "Unknown";
}

/** An error that the HTTP layer sends as a Kubernetes Status with the given code. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Builds the Status object for the response body. */
  toStatus(): KubeStatus {
    const status: KubeStatus = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details !== undefined) {
      status.details = this.details;
    }
    return status;
  }
}

/** Returns the name the API server uses for a resource in messages, e.g. `externalsecrets.external-secrets.io`. */
export function qualifiedResource(type: ResourceType): string {
  return type.group === "" ? type.plural : `${type.plural}.${type.group}`;
}

function detailsFor(type: ResourceType, name: string): StatusDetails {
  return { name, group: type.group, kind: type.plural };
}

/** 404 NotFound for a named object. */
export function notFound(type: ResourceType, name: string): ApiError {
  return new ApiError(
    404,
    "NotFound",
    `${qualifiedResource(type)} "${name}" not found`,
    detailsFor(type, name),
  );
}

/** 409 AlreadyExists for a create whose name is taken. */
export function alreadyExists(type: ResourceType, name: string): ApiError {
  const message = `${qualifiedResource(type)} "${name}" already exists`;
  return new ApiError(409, "AlreadyExists", message, detailsFor(type, name));
}

/** 409 Conflict for a write whose resourceVersion or uid precondition does not match the stored object. */
export function conflict(type: ResourceType, name: string, cause: string): ApiError {
  const message = `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${cause}`;
  return new ApiError(409, "Conflict", message, detailsFor(type, name));
}

/** The cause text the API server uses when a resourceVersion precondition fails. */
export const staleObjectCause =
  "the object has been modified; please apply your changes to the latest version and try again";

/** 422 Invalid with one cause per invalid field. */
export function invalid(type: ResourceType, name: string, causes: StatusCause[]): ApiError {
  const summary = causes.map((cause) => `${cause.field ?? ""}: ${cause.message}`).join(", ");
  const kindName = type.group === "" ? type.kind : `${type.kind}.${type.group}`;
  const message = `${kindName} "${name}" is invalid: ${summary}`;
  return new ApiError(422, "Invalid", message, {
    ...detailsFor(type, name),
    kind: type.kind,
    causes,
  });
}

/** 400 BadRequest with a free-form message. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

/** 410 Expired, which a watch or a continue token gets when its resourceVersion was compacted away. */
export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

/** 404 for a path that names no API endpoint. */
export function pathNotFound(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource", {});
}

/** 405 MethodNotAllowed for an HTTP method the path does not support. */
export function methodNotAllowed(method: string, path: string): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource: ${method} ${path}`,
    {},
  );
}

/** 415 UnsupportedMediaType listing the media types the endpoint accepts. */
export function unsupportedMediaType(contentType: string, accepted: readonly string[]): ApiError {
  const message =
    `the body of the request was in an unknown format (${contentType || "no Content-Type"}) - ` +
    `accepted media types include: ${accepted.join(", ")}`;
  return new ApiError(415, "UnsupportedMediaType", message, {});
}
