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

/** Largest JSON document a TCP source accepts, in bytes, when `maxMessageBytes` is absent. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

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

// TODO: Webhook and the cloud sources are described in the schema but not served yet, so a
// Config that uses them is rejected at load time.
export const SUPPORTED_SOURCE_TYPES: readonly SourceType[] = [
  SourceType.TCPSocket,
  SourceType.HashicorpVault,
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

/** Unknown fields are errors, so a misspelt field is reported instead of ignored. */
const strict = { additionalProperties: false } as const;

export const TcpSocketSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Port),
    identifierPathOnPayload: Type.Optional(Type.String({ minLength: 1 })),
    /** Largest accepted document in bytes; an extension of this gateway. */
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 64, maximum: 64 * 1024 * 1024 })),
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
    webhook: Type.Optional(Type.Unknown()),
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

export type NotificationSource = TcpSocketSource | HashicorpVaultSource;

/** A loaded, validated and defaulted Config; frozen after loading. */
export interface ReloaderConfig {
  readonly name: string;
  readonly sources: readonly NotificationSource[];
  readonly destinations: readonly ExternalSecretDestination[];
}
