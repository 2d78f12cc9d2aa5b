import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import {
  ConfigDocumentSchema,
  DEFAULT_IDENTIFIER_PATH,
  DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_TCP_HOST,
  DEFAULT_TCP_PORT,
  DEFAULT_VAULT_OPERATIONS,
  DEFAULT_WEBHOOK_ADDRESS,
  DEFAULT_WEBHOOK_PATH,
  DestinationType,
  SUPPORTED_DESTINATION_TYPES,
  SUPPORTED_SOURCE_TYPES,
  SourceType,
  type ConfigDocument,
  type ExternalSecretDestination,
  type NotificationSource,
  type ReloaderConfig,
  type WebhookAuth,
} from "./config-schema.js";
import {
  ConfigError,
  ConfigUnreadableError,
  IdentifierPathError,
  type ConfigProblem,
} from "./errors.js";
import { compileIdentifierPath } from "./identifier-path.js";
import { schemaProblems } from "./schema-problems.js";

const KNOWN_SOURCE_TYPES = new Set<string>(Object.values(SourceType));
const KNOWN_DESTINATION_TYPES = new Set<string>(Object.values(DestinationType));

/** Maps a source type to the field of its settings, as the Config schema names it. */
const SOURCE_FIELDS: Record<SourceType, string> = {
  TCPSocket: "tcpSocket",
  HashicorpVault: "hashicorpVault",
  Webhook: "webhook",
  AwsSqs: "awsSqs",
  AzureEventGrid: "azureEventGrid",
  GooglePubSub: "googlePubSub",
  KubernetesSecret: "kubernetesSecret",
  Mock: "mock",
};

/**
 * Reads every `Config` document from a YAML file (documents separated by `---`), validates
 * them and applies the defaults. Throws one `ConfigError` that lists every problem of the
 * file, each by field path and reason.
 */
export async function loadConfigFile(file: string): Promise<ReloaderConfig[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigUnreadableError(file, reason, { cause: error });
  }
  return parseConfigText(text, file);
}

/** Parses and validates Config documents from YAML text; `file` names the source in errors. */
export function parseConfigText(text: string, file: string): ReloaderConfig[] {
  const problems: ConfigProblem[] = [];
  const configs: ReloaderConfig[] = [];
  const documents = parseAllDocuments(text);
  const items = Array.isArray(documents) ? documents : [documents];

  items.forEach((document, index) => {
    const prefix = items.length > 1 ? `(document ${index + 1}) ` : "";
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const firstLine = (error.message.split("\n")[0] ?? "").replace(/:$/, "");
        problems.push({ path: `${prefix}(yaml)`, message: `${firstLine}; fix the YAML syntax` });
      }
      return;
    }

    let value: unknown;
    try {
      value = document.toJS();
    } catch (error) {
      // For example an alias bomb: the yaml package stops expanding excessive aliases.
      problems.push({ path: `${prefix}(yaml)`, message: (error as Error).message });
      return;
    }
    if (value === null || value === undefined) return;

    const config = validateDocument(value, prefix, problems);
    if (config !== undefined) configs.push(config);
  });

  if (problems.length === 0 && configs.length === 0) {
    problems.push({ path: "(file)", message: "holds no Config document; add one" });
  }
  problems.push(...crossConfigProblems(configs));

  if (problems.length > 0) throw new ConfigError(file, problems);
  return configs;
}

/**
 * Loads several files and checks them together (unique names, no shared listen address).
 * Problems of every file are listed at once, each path prefixed with its file when there
 * are several.
 */
export async function loadConfigFiles(files: readonly string[]): Promise<ReloaderConfig[]> {
  const configs: ReloaderConfig[] = [];
  const problems: ConfigProblem[] = [];
  for (const file of files) {
    try {
      configs.push(...(await loadConfigFile(file)));
    } catch (error) {
      if (files.length === 1) throw error;
      if (error instanceof ConfigUnreadableError) {
        problems.push({ path: `${file}: (file)`, message: error.message });
        continue;
      }
      if (!(error instanceof ConfigError)) throw error;
      problems.push(
        ...error.problems.map((problem) => ({ ...problem, path: `${file}: ${problem.path}` })),
      );
    }
  }

  problems.push(...crossConfigProblems(configs));
  if (problems.length > 0) throw new ConfigError(files.join(", "), problems);
  return configs;
}

function validateDocument(
  value: unknown,
  prefix: string,
  problems: ConfigProblem[],
): ReloaderConfig | undefined {
  const found = schemaProblems(ConfigDocumentSchema, value);
  const withPrefix = (problem: ConfigProblem): ConfigProblem => ({
    path: `${prefix}${problem.path}`,
    message: problem.message,
  });

  // Entries whose own fields are valid still get the checks below, so one bad port does
  // not hide an unsupported source type or path elsewhere in the file.
  const isSchemaValid = (path: string): boolean =>
    !found.some(
      (problem) =>
        problem.path === path ||
        problem.path.startsWith(`${path}.`) ||
        problem.path.startsWith(`${path}[`),
    );
  const spec = (value as { spec?: Partial<ConfigDocument["spec"]> } | null)?.spec ?? {};
  const local: ConfigProblem[] = [...found];
  const sources = listOf(spec.notificationSources).map((source, index) =>
    isSchemaValid(`spec.notificationSources[${index}]`)
      ? toSource(source, index, local)
      : undefined,
  );
  const destinations = listOf(spec.destinationsToWatch).map((destination, index) =>
    isSchemaValid(`spec.destinationsToWatch[${index}]`)
      ? toDestination(destination, index, local)
      : undefined,
  );

  problems.push(...local.map(withPrefix));
  if (local.length > 0) return undefined;

  const document = value as ConfigDocument;
  return Object.freeze({
    name: document.metadata.name,
    sources: Object.freeze(sources.filter((source) => source !== undefined)),
    destinations: Object.freeze(destinations.filter((item) => item !== undefined)),
  });
}

function toSource(
  source: ConfigDocument["spec"]["notificationSources"][number],
  index: number,
  problems: ConfigProblem[],
): NotificationSource | undefined {
  const path = `spec.notificationSources[${index}]`;

  if (!KNOWN_SOURCE_TYPES.has(source.type)) {
    const known = [...KNOWN_SOURCE_TYPES].join(", ");
    problems.push({
      path: `${path}.type`,
      message: `unknown source type ${JSON.stringify(source.type)}; expected one of ${known}`,
    });
    return undefined;
  }

  const type = source.type as SourceType;
  if (!SUPPORTED_SOURCE_TYPES.includes(type)) {
    problems.push({
      path: `${path}.type`,
      message:
        `source type ${JSON.stringify(type)} is not supported by this gateway; ` +
        `use ${SUPPORTED_SOURCE_TYPES.join(" or ")}, or keep the original Reloader for it`,
    });
    return undefined;
  }

  for (const [otherType, field] of Object.entries(SOURCE_FIELDS)) {
    if (otherType !== type && field in source) {
      problems.push({
        path: `${path}.${field}`,
        message: `does not belong to a source of type ${type}; remove it or change the type`,
      });
    }
  }

  if (type === SourceType.HashicorpVault) return toVaultSource(source, index);
  if (type === SourceType.Webhook) return toWebhookSource(source, index, problems);
  return toTcpSocketSource(source, index, problems);
}

function toWebhookSource(
  source: ConfigDocument["spec"]["notificationSources"][number],
  index: number,
  problems: ConfigProblem[],
): NotificationSource | undefined {
  const path = `spec.notificationSources[${index}].webhook`;
  const settings = source.webhook ?? {};
  const found: ConfigProblem[] = [];

  const identifierPathOnPayload = settings.identifierPathOnPayload ?? DEFAULT_IDENTIFIER_PATH;
  try {
    compileIdentifierPath(identifierPathOnPayload);
  } catch (error) {
    if (!(error instanceof IdentifierPathError)) throw error;
    found.push({ path: `${path}.identifierPathOnPayload`, message: error.message });
  }

  const address = settings.address ?? DEFAULT_WEBHOOK_ADDRESS;
  const listen = parseListenAddress(address);
  if (listen === undefined) {
    found.push({
      path: `${path}.address`,
      message:
        `must be host:port, :port or [IPv6]:port with a port from 1 to 65535, ` +
        `got ${JSON.stringify(address)}`,
    });
  }

  // The HTTP router reads `:name` and `*` as parameters, so such a path would serve other
  // URLs than the one written.
  const routePath = settings.path ?? DEFAULT_WEBHOOK_PATH;
  const routeSyntax = /[:*]/.exec(routePath);
  if (routeSyntax !== null) {
    found.push({
      path: `${path}.path`,
      message:
        `must be a literal URL path without ':' or '*', got ${JSON.stringify(routePath)}; ` +
        "remove the route parameter",
    });
  }

  const basicAuth = settings.webhookAuth?.basicAuth;
  const bearerToken = settings.webhookAuth?.bearerToken;
  let auth: WebhookAuth | undefined;
  if (basicAuth !== undefined && bearerToken !== undefined) {
    found.push({
      path: `${path}.webhookAuth`,
      message: "set either basicAuth or bearerToken, not both",
    });
  } else if (basicAuth !== undefined) {
    auth = {
      kind: "basic",
      username: basicAuth.usernameSecretRef,
      password: basicAuth.passwordSecretRef,
    };
  } else if (bearerToken !== undefined) {
    auth = { kind: "bearer", token: bearerToken.bearerTokenSecretRef };
  }

  problems.push(...found);
  if (found.length > 0 || listen === undefined) return undefined;
  return Object.freeze({
    type: SourceType.Webhook,
    index,
    host: listen.host,
    port: listen.port,
    path: routePath,
    identifierPathOnPayload,
    maxMessageBytes: settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxIdentifiersPerMessage:
      settings.maxIdentifiersPerMessage ?? DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
    ...(auth === undefined ? {} : { auth: Object.freeze(auth) }),
  });
}

/**
 * Splits a Go-style listen address (`host:port`, `:port` or `[IPv6]:port`); an empty host
 * means every IPv4 address (`0.0.0.0`). Returns undefined when the text is not such an
 * address or the port is outside 1-65535.
 */
export function parseListenAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]\s]*)):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

function toVaultSource(
  source: ConfigDocument["spec"]["notificationSources"][number],
  index: number,
): NotificationSource {
  const settings = source.hashicorpVault ?? {};
  return Object.freeze({
    type: SourceType.HashicorpVault,
    index,
    host: settings.host ?? DEFAULT_TCP_HOST,
    port: settings.port ?? DEFAULT_TCP_PORT,
    ...(settings.prefix === undefined ? {} : { prefix: settings.prefix }),
    operations: Object.freeze([...(settings.operations ?? DEFAULT_VAULT_OPERATIONS)]),
    includeNamespace: settings.includeNamespace ?? false,
    maxMessageBytes: settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
  });
}

function toTcpSocketSource(
  source: ConfigDocument["spec"]["notificationSources"][number],
  index: number,
  problems: ConfigProblem[],
): NotificationSource | undefined {
  const path = `spec.notificationSources[${index}]`;
  const settings = source.tcpSocket ?? {};
  const identifierPathOnPayload = settings.identifierPathOnPayload ?? DEFAULT_IDENTIFIER_PATH;
  try {
    compileIdentifierPath(identifierPathOnPayload);
  } catch (error) {
    if (!(error instanceof IdentifierPathError)) throw error;
    problems.push({ path: `${path}.tcpSocket.identifierPathOnPayload`, message: error.message });
    return undefined;
  }

  return Object.freeze({
    type: SourceType.TCPSocket,
    index,
    host: settings.host ?? DEFAULT_TCP_HOST,
    port: settings.port ?? DEFAULT_TCP_PORT,
    identifierPathOnPayload,
    maxMessageBytes: settings.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxIdentifiersPerMessage:
      settings.maxIdentifiersPerMessage ?? DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE,
  });
}

function toDestination(
  destination: ConfigDocument["spec"]["destinationsToWatch"][number],
  index: number,
  problems: ConfigProblem[],
): ExternalSecretDestination | undefined {
  const path = `spec.destinationsToWatch[${index}]`;
  const type = destination.type ?? (destination.deployment ? "Deployment" : "ExternalSecret");

  if (!KNOWN_DESTINATION_TYPES.has(type)) {
    const known = [...KNOWN_DESTINATION_TYPES].join(", ");
    problems.push({
      path: `${path}.type`,
      message: `unknown destination type ${JSON.stringify(type)}; expected one of ${known}`,
    });
    return undefined;
  }

  if (!SUPPORTED_DESTINATION_TYPES.includes(type as DestinationType)) {
    problems.push({
      path: `${path}.type`,
      message:
        `destination type ${JSON.stringify(type)} is not supported by this gateway; ` +
        `use ${SUPPORTED_DESTINATION_TYPES.join(", ")}`,
    });
    return undefined;
  }

  const externalSecret = destination.externalSecret ?? {};
  problems.push(...selectorProblems(externalSecret, `${path}.externalSecret`));
  return Object.freeze(externalSecret);
}

function selectorProblems(destination: ExternalSecretDestination, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const selectors = [
    { selector: destination.labelSelectors, at: `${path}.labelSelectors` },
    ...(destination.namespaceSelectors ?? []).map((selector, index) => ({
      selector,
      at: `${path}.namespaceSelectors[${index}]`,
    })),
  ];

  for (const { selector, at } of selectors) {
    (selector?.matchExpressions ?? []).forEach((requirement, index) => {
      const where = `${at}.matchExpressions[${index}].values`;
      const count = requirement.values?.length ?? 0;
      const needsValues = requirement.operator === "In" || requirement.operator === "NotIn";

      if (needsValues && count === 0) {
        problems.push({ path: where, message: `must not be empty for ${requirement.operator}` });
      }
      if (!needsValues && count > 0) {
        problems.push({ path: where, message: `must be empty for ${requirement.operator}` });
      }
    });
  }

  return problems;
}

/** Returns `value` when it is an array, so checks can run on a document that failed the schema. */
function listOf<T>(value: readonly T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/** Two listeners collide on one port when they share the host or either binds every address. */
function addressesCollide(a: NotificationSource, b: NotificationSource): boolean {
  if (a.port !== b.port) return false;
  return a.host === b.host || WILDCARD_HOSTS.has(a.host) || WILDCARD_HOSTS.has(b.host);
}

/** Webhook sources with the same host and port share one HTTP server, routed by path. */
function sharesHttpServer(a: NotificationSource, b: NotificationSource): boolean {
  return (
    a.type === SourceType.Webhook &&
    b.type === SourceType.Webhook &&
    a.host === b.host &&
    a.port === b.port
  );
}

/** Names the field that sets a source's listen address, for collision messages. */
function addressField(source: NotificationSource): string {
  const field = SOURCE_FIELDS[source.type];
  return source.type === SourceType.Webhook ? `${field}.address` : `${field}.port`;
}

function crossConfigProblems(configs: readonly ReloaderConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = new Set<string>();
  const listeners: { source: NotificationSource; owner: string }[] = [];

  for (const config of configs) {
    if (names.has(config.name)) {
      problems.push({
        path: "metadata.name",
        message: `Config ${JSON.stringify(config.name)} is defined twice; names must be unique`,
      });
    }
    names.add(config.name);

    for (const source of config.sources) {
      const owner = `${config.name} spec.notificationSources[${source.index}]`;
      const previous = listeners.find(
        (listener) =>
          addressesCollide(listener.source, source) && !sharesHttpServer(listener.source, source),
      );
      if (previous !== undefined) {
        problems.push({
          path: `${owner}.${addressField(source)}`,
          message:
            `listen address ${source.host}:${source.port} collides with ` +
            `${previous.source.host}:${previous.source.port} of ${previous.owner}; pick another port`,
        });
      }

      const samePath = listeners.find(
        (listener) =>
          sharesHttpServer(listener.source, source) &&
          listener.source.type === SourceType.Webhook &&
          source.type === SourceType.Webhook &&
          listener.source.path === source.path,
      );
      if (samePath !== undefined && source.type === SourceType.Webhook) {
        problems.push({
          path: `${owner}.webhook.path`,
          message:
            `path ${source.path} on ${source.host}:${source.port} is already served for ` +
            `${samePath.owner}; pick another path or address`,
        });
      }
      listeners.push({ source, owner });
    }
  }

  return problems;
}
