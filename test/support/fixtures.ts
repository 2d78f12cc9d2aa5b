import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Finds the project root: the nearest folder above this file that contains `test/fixtures`. */
function findRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, "test", "fixtures", "cluster.yaml"))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no test/fixtures folder above ${import.meta.url}`);
    directory = parent;
  }
  return directory;
}

const ROOT = findRoot();

/** Absolute path of the project root. */
export function projectRoot(): string {
  return ROOT;
}

/** Absolute path of a file in `test/fixtures/`. */
export function fixturePath(name: string): string {
  return join(ROOT, "test", "fixtures", name);
}

/**
 * Returns a Config document with one TCPSocket source on 127.0.0.1:`port` that watches
 * every ExternalSecret.
 */
export function loopbackTcpConfig(name: string, port: number): string {
  return `apiVersion: reloader.external-secrets.io/v1alpha1
kind: Config
metadata: {name: ${name}}
spec:
  notificationSources:
    - type: TCPSocket
      tcpSocket: {host: 127.0.0.1, port: ${port}}
  destinationsToWatch:
    - externalSecret: {}
`;
}
