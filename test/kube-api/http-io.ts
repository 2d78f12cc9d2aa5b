import type { IncomingMessage, ServerResponse } from "node:http";

import { ApiError } from "./api-status.js";

/** The API server's default limit on a request body (3 MiB). */
export const maxRequestBodyBytes = 3 * 1024 * 1024;

/** Reads a request body. Throws ApiError 413 when it exceeds the limit. */
export async function readBody(
  req: IncomingMessage,
  limit: number = maxRequestBodyBytes,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;

  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      throw new ApiError(
        413,
        "RequestEntityTooLarge",
        `the request body is larger than the limit of ${limit} bytes`,
      );
    }
    chunks.push(buffer);
  }

  return Buffer.concat(chunks);
}

/** Returns the media type of a Content-Type header without parameters, lowercased (`application/json`). */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Sends a JSON body with the given status code and extra headers. */
export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
  pretty = false,
): void {
  const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends an ApiError as a Status body, with `Retry-After` when the error carries `details.retryAfterSeconds`. */
export function sendApiError(res: ServerResponse, error: ApiError): void {
  const headers: Record<string, string> = {};
  const retryAfter = error.details?.retryAfterSeconds;
  if (retryAfter !== undefined) {
    headers["Retry-After"] = String(retryAfter);
  }
  sendJson(res, error.code, error.toStatus(), headers);
}
