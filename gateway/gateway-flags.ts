import {
  boundedIntegerFlag,
  stringFlag,
  type FlagSpec,
  type FlagValues,
} from "../shared/cli-options.js";
import { parseCidrs, splitCidrList } from "./cidr.js";
import {
  DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
  DEFAULT_MAX_GATEWAY_CONNECTIONS,
  DEFAULT_MAX_MESSAGES_PER_SECOND,
  DEFAULT_MESSAGE_BURST,
} from "./client-limits.js";
import type { GatewayOptions } from "./gateway.js";
import { SourceType, type ReloaderConfig } from "../shared/config-schema.js";
import { loadClusterCredentials } from "../shared/cluster-credentials.js";
import { UsageError } from "../shared/errors.js";
import { KubernetesSecrets } from "./kubernetes-secrets.js";
import {
  DEFAULT_SECRETS_DIR,
  MountedSecretFiles,
  type SecretKeyReader,
} from "./secret-key-reader.js";
import { tlsFilePaths } from "./tls-files.js";
import { DEFAULT_IDLE_TIMEOUT_MS } from "./tcp-source.js";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./webhook-server.js";

/** Largest value accepted by the connection and rate flags. */
const MAX_LIMIT = 1_000_000;

/** Flags of the gateway's network limits and TLS, besides the common ones. */
export const GATEWAY_SECURITY_FLAGS: readonly FlagSpec[] = [
  {
    name: "allowed-cidrs",
    env: "ALLOWED_CIDRS",
    description:
      "comma-separated IPv4 and IPv6 networks (CIDR, such as 10.0.0.0/8,fd00::/8) that may connect to the sources; others are closed at accept. Empty allows every address",
  },
  {
    name: "max-connections",
    env: "MAX_CONNECTIONS",
    description:
      "open connections across all sources, TCP and Webhook, 1-1000000; more are closed at accept",
    defaultValue: String(DEFAULT_MAX_GATEWAY_CONNECTIONS),
  },
  {
    name: "max-connections-per-client",
    env: "MAX_CONNECTIONS_PER_CLIENT",
    description:
      "open connections from one client IP address across all sources, 1-1000000; more are closed at accept",
    defaultValue: String(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
  },
  {
    name: "max-messages-per-second",
    env: "MAX_MESSAGES_PER_SECOND",
    description:
      "identifiers per second one client IP address may send on average across all its TCPSocket and Webhook connections, 0-1000000; above it the gateway pauses reading the client's TCP connections and answers its Webhook requests with 429. 0 turns the limit off",
    defaultValue: String(DEFAULT_MAX_MESSAGES_PER_SECOND),
  },
  {
    name: "max-messages-burst",
    env: "MAX_MESSAGES_BURST",
    description: "identifiers one client may send at once above that rate, 1-1000000",
    defaultValue: String(DEFAULT_MESSAGE_BURST),
  },
  {
    name: "idle-timeout-ms",
    env: "IDLE_TIMEOUT_MS",
    description:
      "milliseconds a TCPSocket or Webhook connection may send nothing before it is closed, 0-86400000; 0 turns it off. HashicorpVault sources never close idle connections",
    defaultValue: String(DEFAULT_IDLE_TIMEOUT_MS),
  },
  {
    name: "webhook-request-timeout-ms",
    env: "WEBHOOK_REQUEST_TIMEOUT_MS",
    description:
      "milliseconds a Webhook client has to send a whole request, headers and body, 1000-600000; a slower one gets 408",
    defaultValue: String(DEFAULT_REQUEST_TIMEOUT_MS),
  },
  {
    name: "tls-cert-file",
    env: "TLS_CERT_FILE",
    description:
      "PEM certificate chain; with --tls-key-file every TCP source serves TLS and every Webhook source HTTPS. The TLS files are checked every 5 s and reloaded when they change",
  },
  {
    name: "tls-key-file",
    env: "TLS_KEY_FILE",
    description: "PEM private key of --tls-cert-file",
  },
  {
    name: "tls-ca-file",
    env: "TLS_CA_FILE",
    description:
      "PEM CA bundle; when set, clients must present a certificate signed by it (mutual TLS)",
  },
];

/** Gateway options set by `GATEWAY_SECURITY_FLAGS`. */
export type GatewaySecurityOptions = Pick<
  GatewayOptions,
  | "allowedCidrs"
  | "maxConnections"
  | "maxConnectionsPerClient"
  | "maxMessagesPerSecond"
  | "messageBurst"
  | "tls"
  | "idleTimeoutMs"
  | "webhookRequestTimeoutMs"
>;

/**
 * Reads `GATEWAY_SECURITY_FLAGS`.
 *
 * @throws UsageError naming the flag and value that are invalid.
 */
export function gatewaySecurityOptions(flags: FlagValues): GatewaySecurityOptions {
  const cidrText = stringFlag(flags, "allowed-cidrs") ?? "";
  const allowedCidrs = splitCidrList([cidrText]);
  // An empty list allows every address, so a value such as "," that names no network is
  // rejected rather than read as "allow all".
  if (cidrText.trim() !== "" && allowedCidrs.length === 0) {
    throw new UsageError(
      `--allowed-cidrs (ALLOWED_CIDRS) is ${JSON.stringify(cidrText)}, which names no network; ` +
        "list networks such as 10.0.0.0/8, or leave it empty to allow every address",
    );
  }
  parseCidrs(allowedCidrs);
  const tls = tlsFilePaths({
    certFile: nonEmpty(stringFlag(flags, "tls-cert-file")),
    keyFile: nonEmpty(stringFlag(flags, "tls-key-file")),
    caFile: nonEmpty(stringFlag(flags, "tls-ca-file")),
  });
  return {
    allowedCidrs,
    maxConnections: limitFlag(flags, "max-connections", DEFAULT_MAX_GATEWAY_CONNECTIONS, 1),
    maxConnectionsPerClient: limitFlag(
      flags,
      "max-connections-per-client",
      DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
      1,
    ),
    maxMessagesPerSecond: limitFlag(
      flags,
      "max-messages-per-second",
      DEFAULT_MAX_MESSAGES_PER_SECOND,
      0,
    ),
    messageBurst: limitFlag(flags, "max-messages-burst", DEFAULT_MESSAGE_BURST, 1),
    idleTimeoutMs: boundedIntegerFlag(flags, "idle-timeout-ms", DEFAULT_IDLE_TIMEOUT_MS, {
      minimum: 0,
      maximum: 86_400_000,
    }),
    webhookRequestTimeoutMs: boundedIntegerFlag(
      flags,
      "webhook-request-timeout-ms",
      DEFAULT_REQUEST_TIMEOUT_MS,
      { minimum: 1000, maximum: 600_000 },
    ),
    ...(tls === undefined ? {} : { tls }),
  };
}

function limitFlag(flags: FlagValues, name: string, fallback: number, minimum: number): number {
  return boundedIntegerFlag(flags, name, fallback, { minimum, maximum: MAX_LIMIT });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Sources of the Secrets that `webhookAuth` references. */
const CREDENTIAL_SOURCES = ["kubernetes", "files"] as const;

/** Flags that choose where Webhook credentials come from. */
export const WEBHOOK_CREDENTIAL_FLAGS: readonly FlagSpec[] = [
  {
    name: "webhook-credentials",
    env: "WEBHOOK_CREDENTIALS",
    description:
      "where Secrets that webhookAuth references are read: kubernetes (the API, with credentials from KUBECONFIG, ~/.kube/config or the pod's service account) or files (mounted under --secrets-dir)",
    defaultValue: "kubernetes",
  },
  {
    name: "secrets-dir",
    env: "SECRETS_DIR",
    description:
      "with --webhook-credentials files, the directory where those Secrets are mounted; a key is read from <dir>/<namespace>/<name>/<key>",
    defaultValue: DEFAULT_SECRETS_DIR,
  },
];

/**
 * Returns the reader of Webhook credentials that the flags choose. Cluster credentials are
 * loaded only when a Webhook source of `configs` has `webhookAuth`.
 *
 * @throws UsageError on an unknown `--webhook-credentials` value, or when it is
 *   `kubernetes` and no cluster credentials are found.
 */
export function secretKeyReaderFromFlags(
  flags: FlagValues,
  configs: readonly ReloaderConfig[],
): SecretKeyReader {
  const choice = stringFlag(flags, "webhook-credentials") ?? "kubernetes";
  if (!(CREDENTIAL_SOURCES as readonly string[]).includes(choice)) {
    throw new UsageError(
      `--webhook-credentials (WEBHOOK_CREDENTIALS) must be kubernetes or files, got ${JSON.stringify(choice)}`,
    );
  }
  const files = new MountedSecretFiles(stringFlag(flags, "secrets-dir") ?? DEFAULT_SECRETS_DIR);
  const needsCredentials = configs.some((config) =>
    config.sources.some((source) => source.type === SourceType.Webhook && source.auth),
  );
  if (choice === "files" || !needsCredentials) return files;

  const { kubeConfig } = loadClusterCredentials(
    "webhookAuth Secrets are read through the Kubernetes API, so set KUBECONFIG, run the " +
      "gateway in a pod, or pass --webhook-credentials files",
  );
  return new KubernetesSecrets(kubeConfig);
}
