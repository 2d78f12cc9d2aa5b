import { writeFile } from "node:fs/promises";

import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

/** Name of the cluster, user and context in kubeconfigs that point at an emulator. */
export const emulatorContextName = "kube-api-emulator";

/**
 * Renders a kubeconfig for an emulator URL. The cluster sets `insecure-skip-tls-verify: true`
 * because @kubernetes/client-node 1.4 rejects `http://` servers without it. The emulator uses
 * no TLS and no authentication, so the user entry is empty.
 */
export function renderKubeconfig(url: string, namespace = "default"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: emulatorContextName, cluster: { server: url, "insecure-skip-tls-verify": true } },
    ],
    users: [{ name: emulatorContextName, user: {} }],
    contexts: [
      {
        name: emulatorContextName,
        context: { cluster: emulatorContextName, user: emulatorContextName, namespace },
      },
    ],
    "current-context": emulatorContextName,
    preferences: {},
  });
}

/** Writes a kubeconfig for an emulator URL to a file, readable only by the owner as kubectl expects. */
export async function writeKubeconfig(
  path: string,
  url: string,
  namespace = "default",
): Promise<void> {
  await writeFile(path, renderKubeconfig(url, namespace), { mode: 0o600 });
}

/** Builds a client-node KubeConfig for an emulator URL, with skipTLSVerify set as `http://` requires. */
export function buildKubeConfig(url: string, namespace = "default"): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: emulatorContextName, server: url, skipTLSVerify: true }],
    users: [{ name: emulatorContextName }],
    contexts: [
      {
        name: emulatorContextName,
        cluster: emulatorContextName,
        user: emulatorContextName,
        namespace,
      },
    ],
    currentContext: emulatorContextName,
  });
  return kubeConfig;
}
