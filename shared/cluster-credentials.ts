import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { UsageError } from "./errors.js";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Source of the cluster credentials a process loaded. */
export type CredentialSource = "KUBECONFIG" | "~/.kube/config" | "in-cluster";

/**
 * Loads cluster credentials the way kubectl does: `KUBECONFIG`, then `~/.kube/config`, then
 * the in-cluster service account. Unlike `KubeConfig.loadFromDefault`, it raises an error
 * when none is found instead of falling back to `http://localhost:8080`, so a production
 * process never talks to whatever happens to listen there. `fix` ends that error, such as
 * `set KUBECONFIG or run the worker in a pod`.
 */
export function loadClusterCredentials(
  fix: string,
  env: NodeJS.ProcessEnv = process.env,
): {
  kubeConfig: KubeConfig;
  source: CredentialSource;
} {
  const kubeConfig = new KubeConfig();
  const home = env.HOME ?? homedir();
  const userConfig = join(home, ".kube", "config");

  let source: CredentialSource;
  let file: string;
  if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== "") {
    source = "KUBECONFIG";
    file = env.KUBECONFIG;
  } else if (existsSync(userConfig)) {
    source = "~/.kube/config";
    file = userConfig;
  } else if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
    source = "in-cluster";
    file = SERVICE_ACCOUNT_TOKEN;
  } else {
    throw new UsageError(
      `no Kubernetes credentials found: KUBECONFIG is unset, ${userConfig} does not exist ` +
        `and ${SERVICE_ACCOUNT_TOKEN} is missing; ${fix}`,
    );
  }

  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    throw new UsageError(
      `cannot load Kubernetes credentials from ${source} (${file}): ${(error as Error).message}; ` +
        "check that the file exists and is a valid kubeconfig",
    );
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new UsageError(
      `the current context "${kubeConfig.getCurrentContext()}" of ${source} names no cluster; ` +
        "pick a context with a cluster (kubectl config use-context NAME)",
    );
  }
  return { kubeConfig, source };
}
