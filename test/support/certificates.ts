import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM files made by `openssl` for one test run. */
export interface Certificates {
  readonly directory: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly rotatedCert: string;
  readonly rotatedKey: string;
  readonly strangerCert: string;
  readonly strangerKey: string;
}

async function openssl(directory: string, args: string[]): Promise<void> {
  await run("openssl", args, { cwd: directory });
}

/** Creates a key pair and a certificate for `commonName` signed by `issuer` (default ca). */
async function issue(
  directory: string,
  name: string,
  commonName: string,
  issuer = "ca",
): Promise<void> {
  await openssl(directory, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${commonName}`,
  ]);
  await writeFile(join(directory, `${name}.ext`), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl(directory, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${issuer}.crt`,
    "-CAkey",
    `${issuer}.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ]);
}

async function selfSigned(directory: string, name: string, commonName: string): Promise<void> {
  await openssl(directory, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "1",
    "-subj",
    `/CN=${commonName}`,
  ]);
}

/**
 * Creates a test CA, a server certificate for 127.0.0.1 and localhost, a second server
 * certificate for rotation, a client certificate of the CA, and one of an untrusted CA.
 * The caller removes `directory`.
 */
export async function createCertificates(): Promise<Certificates> {
  try {
    await run("openssl", ["version"]);
  } catch (error) {
    throw new Error(`the TLS tests need the openssl command: ${(error as Error).message}`);
  }
  const directory = await mkdtemp(join(tmpdir(), "gateway-tls-"));
  await selfSigned(directory, "ca", "gateway test CA");
  await selfSigned(directory, "other-ca", "untrusted test CA");
  await issue(directory, "server", "gateway");
  await issue(directory, "rotated", "gateway rotated");
  await issue(directory, "client", "sender");
  await issue(directory, "stranger", "stranger", "other-ca");
  const path = (file: string) => join(directory, file);
  return {
    directory,
    caCert: path("ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: path("client.crt"),
    clientKey: path("client.key"),
    rotatedCert: path("rotated.crt"),
    rotatedKey: path("rotated.key"),
    strangerCert: path("stranger.crt"),
    strangerKey: path("stranger.key"),
  };
}
