import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect as connectTls, type ConnectionOptions, type TLSSocket } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { createCertificates, type Certificates } from "../support/certificates.js";
import { tlsFilePaths, TlsFiles } from "../../gateway/tls-files.js";
import { UsageError } from "../../shared/errors.js";
import { createLogger } from "../../shared/logger.js";
import { GatewayMetricName, readMetricValue } from "../../shared/metrics.js";
import {
  connectTo,
  finish,
  identifiersWhenStored,
  startTestGateway,
  TEST_CONFIG_NAME,
  waitForValue,
  write,
  type TestGateway,
} from "./gateway-harness.js";

let certificates: Certificates;
before(async () => {
  certificates = await createCertificates();
});

const harnesses: TestGateway[] = [];
after(async () => {
  await Promise.all(harnesses.map((harness) => harness.cleanup()));
  if (certificates) await rm(certificates.directory, { recursive: true, force: true });
});

/** Copies the server certificate and key into a directory of their own, for rotation. */
async function serverFiles(): Promise<{ certFile: string; keyFile: string }> {
  const directory = await mkdtemp(join(certificates.directory, "serving-"));
  const certFile = join(directory, "tls.crt");
  const keyFile = join(directory, "tls.key");
  await writeFile(certFile, await readFile(certificates.serverCert));
  await writeFile(keyFile, await readFile(certificates.serverKey));
  return { certFile, keyFile };
}

async function tlsGateway(settings: {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  reloadIntervalMs?: number;
}): Promise<TestGateway> {
  const harness = await startTestGateway({
    gateway: {
      tls: {
        certFile: settings.certFile ?? certificates.serverCert,
        keyFile: settings.keyFile ?? certificates.serverKey,
        ...(settings.caFile === undefined ? {} : { caFile: settings.caFile }),
        reloadIntervalMs: settings.reloadIntervalMs ?? 100,
      },
    },
  });
  harnesses.push(harness);
  return harness;
}

/** Opens a TLS connection that trusts the test CA and waits for the handshake. */
async function connectWithTls(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const socket = connectTls({
    host: "127.0.0.1",
    port,
    ca: await readFile(certificates.caCert),
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

async function clientCertificate(name: "client" | "stranger"): Promise<ConnectionOptions> {
  return {
    cert: await readFile(join(certificates.directory, `${name}.crt`)),
    key: await readFile(join(certificates.directory, `${name}.key`)),
  };
}

/** Resolves when the gateway has closed `socket`; errors such as ECONNRESET count as closed. */
function closedByPeer(socket: Socket): Promise<void> {
  socket.on("error", () => undefined);
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

function handshakeFailures(harness: TestGateway): Promise<number> {
  return readMetricValue(harness.registry, GatewayMetricName.ConnectionsClosed, {
    config: TEST_CONFIG_NAME,
    source: "0",
    reason: "tls_handshake_failed",
  });
}

function namedDocument(identifier: string): string {
  return `${JSON.stringify({ "0": { data: { ObjectName: identifier } } })}\n`;
}

async function fingerprintOf(file: string): Promise<string> {
  return new X509Certificate(await readFile(file)).fingerprint256;
}

async function servedFingerprint(port: number): Promise<string> {
  const socket = await connectWithTls(port);
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.on("error", () => undefined);
  socket.destroy();
  return fingerprint;
}

describe("Gateway TLS", () => {
  test("TLS client document is stored", async () => {
    const harness = await tlsGateway({});
    const socket = await connectWithTls(harness.port);
    assert.equal(
      socket.getPeerCertificate().fingerprint256,
      await fingerprintOf(certificates.serverCert),
    );
    await write(socket, namedDocument("tls/stored"));
    await finish(socket);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["tls/stored"]);
    assert.equal(await handshakeFailures(harness), 0);
  });

  test("plain TCP client is rejected and counted", async () => {
    const harness = await tlsGateway({});
    const socket = await connectTo(harness.port);
    const closed = closedByPeer(socket);
    socket.write(namedDocument("tls/plain"));
    await closed;

    const failures = await waitForValue(
      () => handshakeFailures(harness),
      (count) => count >= 1,
    );
    assert.equal(failures, 1);
    await sleep(100);
    assert.equal(await harness.enqueued(), 0);
  });

  test("mTLS rejects a client without a certificate", async () => {
    const harness = await tlsGateway({ caFile: certificates.caCert });
    const socket = await connectWithTls(harness.port).catch((error: Error) => error);
    if (!(socket instanceof Error)) {
      const closed = closedByPeer(socket);
      socket.write(namedDocument("mtls/anonymous"));
      await closed;
    }
    const failures = await waitForValue(
      () => handshakeFailures(harness),
      (count) => count >= 1,
    );
    assert.equal(failures, 1);
    await sleep(100);
    assert.equal(await harness.enqueued(), 0);
  });

  test("mTLS rejects a certificate of another CA", async () => {
    const harness = await tlsGateway({ caFile: certificates.caCert });
    const options = await clientCertificate("stranger");
    const socket = await connectWithTls(harness.port, options).catch((error: Error) => error);
    if (!(socket instanceof Error)) {
      const closed = closedByPeer(socket);
      socket.write(namedDocument("mtls/stranger"));
      await closed;
    }
    const failures = await waitForValue(
      () => handshakeFailures(harness),
      (count) => count >= 1,
    );
    assert.equal(failures, 1);
    await sleep(100);
    assert.equal(await harness.enqueued(), 0);
  });

  test("mTLS accepts a certificate of the CA", async () => {
    const harness = await tlsGateway({ caFile: certificates.caCert });
    const socket = await connectWithTls(harness.port, await clientCertificate("client"));
    await write(socket, namedDocument("mtls/accepted"));
    await finish(socket);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["mtls/accepted"]);
    assert.equal(await handshakeFailures(harness), 0);
  });

  test("closed TLS connections free their slot", async () => {
    const harness = await startTestGateway({
      gateway: {
        maxConnectionsPerClient: 1,
        tls: { certFile: certificates.serverCert, keyFile: certificates.serverKey },
      },
    });
    harnesses.push(harness);
    for (let i = 0; i < 3; i++) {
      const socket = await connectWithTls(harness.port);
      await write(socket, namedDocument(`tls/slot-${i}`));
      await finish(socket);
    }
    const plain = await connectTo(harness.port);
    const plainClosed = closedByPeer(plain);
    plain.write(namedDocument("tls/plain"));
    await plainClosed;
    const socket = await connectWithTls(harness.port);
    await write(socket, namedDocument("tls/slot-3"));
    await finish(socket);

    const stored = await identifiersWhenStored(harness, 4);
    assert.deepEqual(stored, ["tls/slot-0", "tls/slot-1", "tls/slot-2", "tls/slot-3"]);
    const perClient = await readMetricValue(harness.registry, GatewayMetricName.ConnectionsClosed, {
      config: TEST_CONFIG_NAME,
      source: "0",
      reason: "max_connections_per_client",
    });
    assert.equal(perClient, 0);
  });

  test("rotated certificate is served", async () => {
    const files = await serverFiles();
    const harness = await tlsGateway(files);
    const original = await fingerprintOf(certificates.serverCert);
    const rotated = await fingerprintOf(certificates.rotatedCert);
    assert.notEqual(original, rotated);
    assert.equal(await servedFingerprint(harness.port), original);

    // An unusable new file is ignored: the loaded certificate stays in force.
    await writeFile(`${files.certFile}.new`, "not a certificate\n");
    await rename(`${files.certFile}.new`, files.certFile);
    await sleep(300);
    assert.equal(await servedFingerprint(harness.port), original);

    await writeFile(`${files.keyFile}.new`, await readFile(certificates.rotatedKey));
    await writeFile(`${files.certFile}.new`, await readFile(certificates.rotatedCert));
    await rename(`${files.keyFile}.new`, files.keyFile);
    await rename(`${files.certFile}.new`, files.certFile);
    const served = await waitForValue(
      () => servedFingerprint(harness.port),
      (fingerprint) => fingerprint === rotated,
    );
    assert.equal(served, rotated);

    const socket = await connectWithTls(harness.port);
    await write(socket, namedDocument("tls/rotated"));
    await finish(socket);
    assert.deepEqual(await identifiersWhenStored(harness, 1), ["tls/rotated"]);
  });
});

describe("TLS settings", () => {
  const logger = createLogger({ name: "tls-test", level: "silent" });

  test("certificate without key is an error", () => {
    assert.throws(
      () => tlsFilePaths({ certFile: "tls.crt" }),
      (error: unknown) => error instanceof UsageError && error.message.includes("--tls-key-file"),
    );
    assert.throws(
      () => tlsFilePaths({ keyFile: "tls.key" }),
      (error: unknown) => error instanceof UsageError && error.message.includes("--tls-cert-file"),
    );
    assert.throws(() => tlsFilePaths({ caFile: "ca.crt" }), UsageError);
    assert.equal(tlsFilePaths({}), undefined);
  });

  test("missing file is named", () => {
    const missing = join(certificates.directory, "missing.crt");
    assert.throws(
      () => new TlsFiles({ certFile: missing, keyFile: certificates.serverKey, logger }),
      (error: unknown) => error instanceof UsageError && error.message.includes(missing),
    );
  });

  test("mismatched key is rejected", () => {
    assert.throws(
      () =>
        new TlsFiles({
          certFile: certificates.serverCert,
          keyFile: certificates.rotatedKey,
          logger,
        }),
      UsageError,
    );
  });
});
