import { Type, type Static } from "@sinclair/typebox";

/**
 * Schema of the Reloader `Config` resource (reloader.external-secrets.io/v1alpha1), so
 * manifests written for the original Reloader load unchanged. Defaults live beside the
 * fields they fill.
 */

export const CONFIG_API_VERSION = "reloader.external-secrets.io/v1alpha1";
export const CONFIG_KIND = "Config";

/** Listen address of a TCP source when `host` is absent. */
export const DEFAULT_TCP_HOST = "0.0.0.0";

/** Listen port of a TCP source when `port` is absent. */
export const DEFAULT_TCP_PORT = 8000;

/** gjson path of the identifier when `identifierPathOnPayload` is absent. */
export const DEFAULT_IDENTIFIER_PATH = "0.data.ObjectName";

/**
 * Maximum number of values a document's identifier path may select when
 * `maxIdentifiersPerMessage` is absent. A document that selects more is rejected, so one
 * document cannot queue an unbounded number of jobs.
 */
export const DEFAULT_MAX_IDENTIFIERS_PER_MESSAGE = 1000;

/** Largest JSON document a TCP source accepts, in bytes, when `maxMessageBytes` is absent. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** Listen address of a Webhook source when `address` is absent, as the original Reloader defaults it. */
export const DEFAULT_WEBHOOK_ADDRESS = ":8090";

/** HTTP path of a Webhook source when `path` is absent. */
export const DEFAULT_WEBHOOK_PATH = "/webhook";

/** Vault audit operations that count as secret writes when `operations` is absent. */
export const DEFAULT_VAULT_OPERATIONS: readonly string[] = ["create", "update", "patch"];

/** Source types the original Reloader defines, and the subset this gateway serves. */
export const SourceType = {
  TCPSocket: "TCPSocket",
  HashicorpVault: "HashicorpVault",
  Webhook: "Webhook",
  AwsSqs: "AwsSqs",
  AzureEventGrid: "AzureEventGrid",
  GooglePubSub: "GooglePubSub",
  KubernetesSecret: "KubernetesSecret",
  Mock: "Mock",
} as const;
export type SourceType = (typeof SourceType)[keyof typeof SourceType];

// TODO: the cloud sources, KubernetesSecret and Mock are described in the schema but not
// served yet, so a Config that uses them is rejected at load time.
export const SUPPORTED_SOURCE_TYPES: readonly SourceType[] = [
  SourceType.TCPSocket,
  SourceType.HashicorpVault,
  SourceType.Webhook,
];

export const DestinationType = {
  ExternalSecret: "ExternalSecret",
  Deployment: "Deployment",
} as const;
export type DestinationType = (typeof DestinationType)[keyof typeof DestinationType];

export const SUPPORTED_DESTINATION_TYPES: readonly DestinationType[] = [
  DestinationType.ExternalSecret,
];

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

const MaxIdentifiers = Type.Integer({ minimum: 1, maximum: 100_000 });

/** Unknown fields are errors, so a misspelt field is reported instead of ignored. */
const strict = { additionalProperties: false } as const;

export const TcpSocketSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Port),
    identifierPathOnPayload: Type.Optional(Type.String({ minLength: 1 })),
    /** Largest accepted document in bytes; an extension of this gateway. */
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 64, maximum: 64 * 1024 * 1024 })),
    /** Maximum number of values the identifier path may select in one document; an extension. */
    maxIdentifiersPerMessage: Type.Optional(MaxIdentifiers),
  },
  strict,
);

/**
 * Settings of a HashicorpVault source: a TCP listener for the entries of a Vault or OpenBao
 * socket audit device. Every field except `host` and `port` is an extension of this gateway.
 */
export const HashicorpVaultSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Port),
    /** Text that the audit device writes before each entry (its `prefix` option). */
    prefix: Type.Optional(Type.String({ minLength: 1, pattern: "^[^\\r\\n]+$" })),
    /** Request operations that count as secret writes. */
    operations: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** Whether the identifier starts with the Vault Enterprise namespace path. */
    includeNamespace: Type.Optional(Type.Boolean()),
    /** Largest accepted audit entry in bytes. */
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 64, maximum: 64 * 1024 * 1024 })),
  },
  strict,
);

/**
 * Reference to one key of a Kubernetes Secret. The gateway reads it from a directory where
 * the Secret is mounted instead of from the Kubernetes API; see `secretKeyFile`.
 */
export const SecretKeySelectorSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
    }),
    namespace: Type.Optional(
      Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" }),
    ),
    key: Type.String({ minLength: 1, maxLength: 253, pattern: "^[-._a-zA-Z0-9]+$" }),
  },
  strict,
);

/** Credentials a Webhook source requires; field names follow the original Reloader. */
export const WebhookAuthSchema = Type.Object(
  {
    basicAuth: Type.Optional(
      Type.Object(
        { usernameSecretRef: SecretKeySelectorSchema, passwordSecretRef: SecretKeySelectorSchema },
        strict,
      ),
    ),
    bearerToken: Type.Optional(
      Type.Object({ bearerTokenSecretRef: SecretKeySelectorSchema }, strict),
    ),
  },
  strict,
);

/**
 * Settings of a Webhook source. `path`, `address`, `identifierPathOnPayload`, `webhookAuth`
 * and `retryPolicy` come from the original Reloader's `WebhookConfig`; `maxMessageBytes` and
 * `maxIdentifiersPerMessage` are extensions of this gateway.
 */
export const WebhookSchema = Type.Object(
  {
    path: Type.Optional(Type.String({ minLength: 1, pattern: "^/[^?#\\s]*$" })),
    /** `host:port`, `:port` or `[IPv6]:port`; an empty host listens on every IPv4 address. */
    address: Type.Optional(Type.String({ minLength: 1 })),
    identifierPathOnPayload: Type.Optional(Type.String({ minLength: 1 })),
    webhookAuth: Type.Optional(WebhookAuthSchema),
    /** Accepted for compatibility and ignored; see docs/configuration.md. */
    retryPolicy: Type.Optional(
      Type.Object(
        {
          maxRetries: Type.Optional(Type.Integer({ minimum: 0 })),
          algorithm: Type.Optional(Type.String()),
        },
        strict,
      ),
    ),
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 64, maximum: 64 * 1024 * 1024 })),
    maxIdentifiersPerMessage: Type.Optional(MaxIdentifiers),
  },
  strict,
);

export const LabelSelectorRequirementSchema = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    operator: Type.Union([
      Type.Literal("In"),
      Type.Literal("NotIn"),
      Type.Literal("Exists"),
      Type.Literal("DoesNotExist"),
    ]),
    values: Type.Optional(Type.Array(Type.String())),
  },
  strict,
);

export const LabelSelectorSchema = Type.Object(
  {
    matchLabels: Type.Optional(Type.Record(Type.String(), Type.String())),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirementSchema)),
  },
  strict,
);

export const ExternalSecretDestinationSchema = Type.Object(
  {
    names: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    labelSelectors: Type.Optional(LabelSelectorSchema),
    namespaceSelectors: Type.Optional(Type.Array(LabelSelectorSchema)),
  },
  strict,
);

export const NotificationSourceSchema = Type.Object(
  {
    type: Type.String({ minLength: 1 }),
    tcpSocket: Type.Optional(TcpSocketSchema),
    hashicorpVault: Type.Optional(HashicorpVaultSchema),
    webhook: Type.Optional(WebhookSchema),
    awsSqs: Type.Optional(Type.Unknown()),
    azureEventGrid: Type.Optional(Type.Unknown()),
    googlePubSub: Type.Optional(Type.Unknown()),
    kubernetesSecret: Type.Optional(Type.Unknown()),
    mock: Type.Optional(Type.Unknown()),
  },
  strict,
);

export const DestinationToWatchSchema = Type.Object(
  {
    type: Type.Optional(Type.String({ minLength: 1 })),
    externalSecret: Type.Optional(ExternalSecretDestinationSchema),
    deployment: Type.Optional(Type.Unknown()),
    updateStrategy: Type.Optional(Type.Unknown()),
    matchStrategy: Type.Optional(Type.Unknown()),
    waitStrategy: Type.Optional(Type.Unknown()),
  },
  strict,
);

export const ConfigDocumentSchema = Type.Object(
  {
    apiVersion: Type.Literal(CONFIG_API_VERSION),
    kind: Type.Literal(CONFIG_KIND),
    metadata: Type.Object({
      name: Type.String({ minLength: 1, maxLength: 253 }),
      labels: Type.Optional(Type.Record(Type.String(), Type.String())),
      annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    }),
    spec: Type.Object(
      {
        notificationSources: Type.Array(NotificationSourceSchema, { minItems: 1 }),
        destinationsToWatch: Type.Array(DestinationToWatchSchema, { minItems: 1 }),
      },
      strict,
    ),
    status: Type.Optional(Type.Unknown()),
  },
  strict,
);

export type LabelSelectorRequirement = Static<typeof LabelSelectorRequirementSchema>;
export type LabelSelector = Static<typeof LabelSelectorSchema>;
export type ExternalSecretDestination = Static<typeof ExternalSecretDestinationSchema>;
export type ConfigDocument = Static<typeof ConfigDocumentSchema>;

/** A TCP source after defaults are applied. */
export interface TcpSocketSource {
  readonly type: typeof SourceType.TCPSocket;
  /** Position in `spec.notificationSources`, used in logs and job data. */
  readonly index: number;
  readonly host: string;
  readonly port: number;
  readonly identifierPathOnPayload: string;
  readonly maxMessageBytes: number;
  /** Maximum number of values the identifier path may select in one document. */
  readonly maxIdentifiersPerMessage: number;
}

/** A HashicorpVault source after defaults are applied. */
export interface HashicorpVaultSource {
  readonly type: typeof SourceType.HashicorpVault;
  /** Position in `spec.notificationSources`, used in logs and job data. */
  readonly index: number;
  readonly host: string;
  readonly port: number;
  /** Text removed from the start of each line before parsing; absent when none is set. */
  readonly prefix?: string;
  /** Request operations that count as secret writes, such as `update`. */
  readonly operations: readonly string[];
  /** Whether the identifier starts with `request.namespace.path`. */
  readonly includeNamespace: boolean;
  readonly maxMessageBytes: number;
}

/** One key of a Kubernetes Secret, as a Config references it. */
export type SecretKeySelector = Static<typeof SecretKeySelectorSchema>;

/** Credentials a Webhook source requires of every request. */
export type WebhookAuth =
  | {
      readonly kind: "basic";
      readonly username: SecretKeySelector;
      readonly password: SecretKeySelector;
    }
  | { readonly kind: "bearer"; readonly token: SecretKeySelector };

/** A Webhook source after defaults are applied and `address` is split. */
export interface WebhookSource {
  readonly type: typeof SourceType.Webhook;
  /** Position in `spec.notificationSources`, used in logs and job data. */
  readonly index: number;
  readonly host: string;
  readonly port: number;
  /** HTTP path that takes POST requests, starting with `/`. */
  readonly path: string;
  readonly identifierPathOnPayload: string;
  /** Largest accepted request body in bytes. */
  readonly maxMessageBytes: number;
  /** Maximum number of values the identifier path may select in one request body. */
  readonly maxIdentifiersPerMessage: number;
  /** Absent when the source takes requests without credentials. */
  readonly auth?: WebhookAuth;
}

export type NotificationSource = TcpSocketSource | HashicorpVaultSource | WebhookSource;

/** A loaded, validated and defaulted Config; frozen after loading. */
export interface ReloaderConfig {
  readonly name: string;
  readonly sources: readonly NotificationSource[];
  readonly destinations: readonly ExternalSecretDestination[];
}
