/** One API request as the emulator received it. */
export interface LoggedRequest {
  method: string;
  path: string;
  /** Query parameters, with the last value of a repeated parameter. */
  query: Record<string, string>;
  contentType?: string;
  accept?: string;
  /** The body as UTF-8 text, "" when there was none. */
  body: string;
  /** HTTP status of the response, set when the response finishes. */
  status?: number;
  /** When the request arrived, as an ISO 8601 timestamp. */
  receivedAt: string;
}

/** Default number of requests kept. Older ones are dropped first. */
export const defaultRequestLogLimit = 10_000;

/** The most recent API requests, so tests can check what a client sent. */
export class RequestLog {
  private entries: LoggedRequest[] = [];

  constructor(readonly limit: number = defaultRequestLogLimit) {}

  /** Appends a request and returns the stored entry, which the caller may complete with `status`. */
  record(entry: LoggedRequest): LoggedRequest {
    this.entries.push(entry);
    if (this.entries.length > this.limit) {
      this.entries.shift();
    }
    return entry;
  }

  /** Returns copies of the logged requests, oldest first, optionally only those a predicate accepts. */
  list(predicate: (entry: LoggedRequest) => boolean = () => true): LoggedRequest[] {
    return this.entries.filter(predicate).map((entry) => ({ ...entry, query: { ...entry.query } }));
  }

  /** Forgets every logged request. */
  clear(): void {
    this.entries = [];
  }
}
