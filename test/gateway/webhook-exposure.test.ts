import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { GatewayOptions } from "../../gateway/gateway.js";
import { GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import { createCertificates, type Certificates } from "../support/certificates.js";
import { waitForValue } from "./gateway-harness.js";
import {
  config,
  startWebhookGateway,
  webhookSource,
  type WebhookHarness,
} from "./webhook-harness.js";

const CONFIG_NAME = "exposed";

const DOCUMENT = JSON.stringify({ "0": { data: { ObjectName: "payments/stripe-key" } } });

let certificates: Certificates;
before(async () => {
  certificates = await createCertificates();
});

const harnesses: WebhookHarness[] = [];
after(async () => {
  await Promise.all(harnesses.map((harness) => harness.cleanup()));
  if (certificates) await rm(certificates.directory, { recursive: true, force: true });
});

async function exposedGateway(options: Partial<GatewayOptions>): Promise<WebhookHarness> {
  const harness = await startWebhookGateway([config(CONFIG_NAME, [webhookSource()])], options);
  harnesses.push(harness);
  return harness;
}

/** Waits up to 5 s for `read` to return `expected`, then asserts that it does. */
async function expectValue(read: () => Promise<number>, expected: number): Promise<void> {
  assert.equal(await waitForValue(read, (value) => value === expected), expected);
}

function portOf(harness: WebhookHarness): number {
  const [address] = harness.gateway.addresses();
  assert.ok(address, "the gateway has no Webhook address");
  return address.port;
}

function closedCount(harness: WebhookHarness, reason: string): Promise<number> {
  return readMetricValue(harness.registry, GatewayMetricName.ConnectionsClosed, {
    config: CONFIG_NAME,
    source: "0",
    reason,
  });
}

function openConnections(harness: WebhookHarness): Promise<number> {
  return readMetricValue(harness.registry, GatewayMetricName.OpenConnections, {
    config: CONFIG_NAME,
    source: "0",
  });
}

interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** TLS settings of an HTTPS request; absent for plain HTTP. */
interface ClientTls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** POSTs `body` to the Webhook path with node:http or node:https and reads the response. */
function postDocument(
  port: number,
  options: { body?: string; agent?: HttpAgent; tls?: ClientTls } = {},
): Promise<Response> {
  const { tls } = options;
  const send = tls === undefined ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      {
        host: "127.0.0.1",
        port,
        path: "/webhook",
        method: "POST",
        headers: { "content-type": "application/json" },
        ...(options.agent === undefined ? {} : { agent: options.agent }),
        ...(tls === undefined ? {} : { ...tls, servername: "localhost" }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    request.on("error", reject);
    request.end(options.body ?? DOCUMENT);
  });
}

/** Opens a plain TCP connection and waits until it is established. */
async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("close", () => reject(new Error("the connection closed before it opened")));
  });
  return socket;
}

/** Resolves with the bytes the server sent when it closes `socket`. */
function readUntilClosed(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) =>
    socket.once("close", () => resolve(Buffer.concat(chunks).toString("utf8"))),
  );
}

async function tlsFiles(): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
  return {
    ca: await readFile(certificates.caCert),
    cert: await readFile(certificates.clientCert),
    key: await readFile(certificates.clientKey),
  };
}

describe("webhook over HTTPS", () => {
  it("HTTPS accepted, plain HTTP counted", async () => {
    const harness = await exposedGateway({
      tls: { certFile: certificates.serverCert, keyFile: certificates.serverKey },
    });
    const port = portOf(harness);
    const { ca } = await tlsFiles();

    const accepted = await postDocument(port, { tls: { ca } });
    assert.equal(accepted.status, 202, accepted.body);
    assert.equal((await harness.queue.getJobs(["waiting", "delayed"])).length, 1);

    await assert.rejects(postDocument(port), /socket hang up|ECONNRESET|parse error/i);
    await expectValue(() => closedCount(harness, "tls_handshake_failed"), 1);
    assert.equal(await closedCount(harness, "malformed_request"), 0, "counted once, as TLS");
  });

  it("mTLS requires a CA client certificate", async () => {
    const harness = await exposedGateway({
      tls: {
        certFile: certificates.serverCert,
        keyFile: certificates.serverKey,
        caFile: certificates.caCert,
      },
    });
    const port = portOf(harness);
    const { ca, cert, key } = await tlsFiles();

    await assert.rejects(postDocument(port, { tls: { ca } }));
    const stranger = {
      ca,
      cert: await readFile(join(certificates.directory, "stranger.crt")),
      key: await readFile(join(certificates.directory, "stranger.key")),
    };
    await assert.rejects(postDocument(port, { tls: stranger }));
    await expectValue(() => closedCount(harness, "tls_handshake_failed"), 2);
    assert.equal(await closedCount(harness, "malformed_request"), 0, "counted once, as TLS");

    const accepted = await postDocument(port, { tls: { ca, cert, key } });
    assert.equal(accepted.status, 202, accepted.body);
    assert.equal(await harness.messages("accepted"), 1);
  });
});

describe("webhook connection checks", () => {
  it("closes addresses outside allowed CIDRs", async () => {
    const harness = await exposedGateway({ allowedCidrs: ["10.0.0.0/8"] });

    await assert.rejects(postDocument(portOf(harness)), /socket hang up|ECONNRESET/);
    assert.equal(await closedCount(harness, "address_not_allowed"), 1);
    assert.equal(await harness.messages("accepted"), 0);

    const allowed = await exposedGateway({ allowedCidrs: ["10.0.0.0/8", "127.0.0.0/8"] });
    const response = await postDocument(portOf(allowed));
    assert.equal(response.status, 202, response.body);
  });

  it("per-client limit closes extra connections", async () => {
    const harness = await exposedGateway({ maxConnectionsPerClient: 2 });
    const port = portOf(harness);

    const first = await openSocket(port);
    const second = await openSocket(port);
    await expectValue(() => openConnections(harness), 2);
    const third = connect({ host: "127.0.0.1", port });
    third.on("error", () => undefined);
    await readUntilClosed(third);
    assert.equal(await closedCount(harness, "max_connections_per_client"), 1);

    first.destroy();
    second.destroy();
    await expectValue(() => openConnections(harness), 0);
    const response = await postDocument(port);
    assert.equal(response.status, 202, response.body);
  });

  it("global limit closes extra connections", async () => {
    const harness = await exposedGateway({ maxConnections: 1 });
    const port = portOf(harness);

    const firstConnection = await openSocket(port);
    await assert.rejects(postDocument(port), /socket hang up|ECONNRESET/);
    assert.equal(await closedCount(harness, "max_connections_global"), 1);
    firstConnection.destroy();
  });
});

describe("webhook timeouts", () => {
  it("idle connection closed after timeout", async () => {
    const harness = await exposedGateway({ idleTimeoutMs: 300 });
    const socket = await openSocket(portOf(harness));

    const startedAt = Date.now();
    await readUntilClosed(socket);
    const elapsedMs = Date.now() - startedAt;
    assert.ok(elapsedMs >= 250, `closed after ${elapsedMs} ms, before the timeout`);
    assert.ok(elapsedMs < 5000, `closed after ${elapsedMs} ms`);
    assert.equal(await closedCount(harness, "idle_timeout"), 1);
  });

  it("slow request gets 408", async () => {
    const harness = await exposedGateway({ webhookRequestTimeoutMs: 1000 });
    const socket = await openSocket(portOf(harness));

    // Headers and part of the body, then silence: a slow-loris sender.
    socket.write(
      "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        "Content-Length: 100\r\n\r\n{",
    );
    const answer = await readUntilClosed(socket);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal(await closedCount(harness, "request_timeout"), 1);
  });

  it("malformed request counted", async () => {
    const harness = await exposedGateway({});
    const socket = await openSocket(portOf(harness));

    socket.write("NOT HTTP AT ALL\r\n\r\n");
    const answer = await readUntilClosed(socket);
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(await closedCount(harness, "malformed_request"), 1);
  });
});

describe("webhook message rate", () => {
  it("429 above the client's rate", async () => {
    // One token per 100 s, so no token comes back while the test runs on a slow machine.
    const harness = await exposedGateway({ maxMessagesPerSecond: 0.01, messageBurst: 2 });
    const port = portOf(harness);
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });

    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let request = 0; request < 3; request += 1) {
      const response = await postDocument(port, { agent });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    agent.destroy();

    assert.deepEqual(statuses, [202, 202, 429]);
    assert.equal(limited?.headers["retry-after"], "100");
    assert.match(limited?.body ?? "", /more than 0\.01 requests or identifiers per second/);
    assert.equal(await harness.messages("rate_limited"), 1);
    assert.equal(await harness.messages("accepted"), 2);

    // A new connection from the same address shares the client's budget.
    const fresh = await postDocument(port, { agent: new HttpAgent({ keepAlive: false }) });
    assert.equal(fresh.status, 429, fresh.body);
  });
});

describe("webhook identifiers per request", () => {
  it("400 above maxIdentifiersPerMessage", async () => {
    const harness = await startWebhookGateway([
      config(CONFIG_NAME, [
        webhookSource({ identifierPathOnPayload: "#.name", maxIdentifiersPerMessage: 2 }),
      ]),
    ]);
    harnesses.push(harness);
    const body = JSON.stringify([{ name: "a/1" }, { name: "a/2" }, { name: "a/3" }]);

    const response = await postDocument(portOf(harness), { body });
    assert.equal(response.status, 400);
    assert.match(response.body, /selects 3 values, more than maxIdentifiersPerMessage \(2\)/);
    assert.equal(await harness.messages("too_many_identifiers"), 1);
    assert.equal((await harness.queue.getJobs(["waiting", "delayed"])).length, 0);
  });

  it("each identifier costs a token", async () => {
    const harness = await startWebhookGateway(
      [config(CONFIG_NAME, [webhookSource({ identifierPathOnPayload: "#.name" })])],
      { maxMessagesPerSecond: 0.01, messageBurst: 3 },
    );
    harnesses.push(harness);
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify([{ name: "b/1" }, { name: "b/2" }, { name: "b/3" }]);

    const first = await postDocument(portOf(harness), { body, agent });
    const second = await postDocument(portOf(harness), { agent });
    agent.destroy();

    assert.equal(first.status, 202, first.body);
    assert.equal(second.status, 429, "three identifiers used the burst of three");
  });
});

describe("webhook shutdown", () => {
  it("answers a request in progress with Connection: close", async () => {
    const harness = await exposedGateway({ connectionCloseGraceMs: 2000 });
    const socket = await openSocket(portOf(harness));
    const answer = readUntilClosed(socket);
    socket.write(
      "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${Buffer.byteLength(DOCUMENT)}\r\n\r\n${DOCUMENT.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    const closing = harness.gateway.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.write(DOCUMENT.slice(10));

    const text = await answer;
    await closing;
    assert.match(text, /^HTTP\/1\.1 202 /);
    assert.match(text, /\r\nconnection: close\r\n/i);
  });

  it("closes idle keep-alive connections", async () => {
    const harness = await exposedGateway({ connectionCloseGraceMs: 300 });
    const port = portOf(harness);
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });

    const response = await postDocument(port, { agent: keepAlive });
    assert.equal(response.status, 202, response.body);
    await expectValue(() => openConnections(harness), 1);

    const startedAt = Date.now();
    await harness.gateway.close();
    const elapsedMs = Date.now() - startedAt;
    assert.ok(elapsedMs < 3000, `close took ${elapsedMs} ms`);
    await expectValue(() => openConnections(harness), 0);
    keepAlive.destroy();
  });
});
