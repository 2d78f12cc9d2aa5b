import { get, type ClientRequest, type IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";

import {
  startKubeApiEmulator,
  type KubeApiEmulator,
  type KubeApiEmulatorOptions,
} from "./emulator.js";

/** Path of the shared fixture with 3 Namespaces and 6 ExternalSecrets. */
export const clusterFixture = fileURLToPath(
  new URL("../../../test/fixtures/cluster.yaml", import.meta.url),
);

/** Path of the compiled CLI. */
export const cliPath = fileURLToPath(new URL("./main.js", import.meta.url));

/** Starts an emulator on 127.0.0.1 and a free port with the cluster fixture loaded. */
export function startFixtureEmulator(
  options: KubeApiEmulatorOptions = {},
): Promise<KubeApiEmulator> {
  return startKubeApiEmulator({ load: [clusterFixture], ...options });
}

/** Path of the ExternalSecret collection in one namespace, or in all when `namespace` is omitted. */
export function externalSecretsPath(namespace?: string, name?: string): string {
  const base = "/apis/external-secrets.io/v1";
  const collection =
    namespace === undefined
      ? `${base}/externalsecrets`
      : `${base}/namespaces/${namespace}/externalsecrets`;
  return name === undefined ? collection : `${collection}/${name}`;
}

/** Sends a request and returns the status, headers and parsed JSON body (undefined for an empty body). */
export async function requestJson(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; headers: Headers; body: any }> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "Content-Type": contentType };
  }
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? undefined : JSON.parse(text),
  };
}

/** Polls a condition every 10 ms until it is true. Throws an error with the description after the timeout. */
export async function waitFor(
  description: string,
  condition: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One decoded line of a watch response. */
export interface WatchLine {
  type: string;
  object: any;
}

/** A raw watch connection that collects the events the server streams. */
export class WatchReader {
  readonly events: WatchLine[] = [];
  statusCode = 0;
  contentType = "";
  ended = false;
  private readonly request: ClientRequest;
  private buffered = "";

  /** Opens `GET url` and resolves once the response headers arrive. */
  static open(url: string): Promise<WatchReader> {
    return new Promise((resolve, reject) => {
      const reader = new WatchReader(url, () => resolve(reader), reject);
    });
  }

  private constructor(url: string, onResponse: () => void, onError: (error: Error) => void) {
    this.request = get(url, (response: IncomingMessage) => {
      this.statusCode = response.statusCode ?? 0;
      this.contentType = response.headers["content-type"] ?? "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => this.receive(chunk));
      response.on("end", () => {
        this.ended = true;
      });
      response.on("error", () => {
        this.ended = true;
      });
      onResponse();
    });
    this.request.on("error", onError);
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    let newline = this.buffered.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      if (line.trim() !== "") {
        this.events.push(JSON.parse(line) as WatchLine);
      }
      newline = this.buffered.indexOf("\n");
    }
  }

  /** Waits until at least `count` events arrived and returns them all. */
  async waitForEvents(count: number, timeoutMs = 5000): Promise<WatchLine[]> {
    await waitFor(
      `${count} watch events (got ${this.events.length})`,
      () => this.events.length >= count,
      timeoutMs,
    );
    return this.events;
  }

  /** Waits until the server ends the response. */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    await waitFor("the watch response to end", () => this.ended, timeoutMs);
  }

  /** Closes the connection from the client side. */
  close(): void {
    this.request.destroy();
  }
}
