import { Observable, type ObservableMiddleware } from "@kubernetes/client-node";

/**
 * Builds a client-node middleware that aborts each request after `timeoutMs` milliseconds.
 * Aborting closes the connection, so a hung API server does not collect open requests.
 * The call then rejects with a `DOMException` named `TimeoutError`.
 */
export function createTimeoutMiddleware(timeoutMs: number): ObservableMiddleware {
  return {
    pre: (request) => {
      request.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}

/** Returns whether `error` is the rejection of a request that `createTimeoutMiddleware` aborted. */
export function isRequestTimeout(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return name === "TimeoutError" || name === "AbortError";
}
