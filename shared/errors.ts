/**
 * Stable error codes shared by both tiers. Callers branch on `code` or `instanceof`,
 * never on message text.
 */
export const ErrorCode = {
  ConfigInvalid: "CONFIG_INVALID",
  ConfigUnreadable: "CONFIG_UNREADABLE",
  IdentifierPathInvalid: "IDENTIFIER_PATH_INVALID",
  UsageInvalid: "USAGE_INVALID",
  WebhookCredentialsUnreadable: "WEBHOOK_CREDENTIALS_UNREADABLE",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One problem found in a configuration file, located by field path. */
export interface ConfigProblem {
  /** Field path such as `spec.notificationSources[0].tcpSocket.port`. */
  readonly path: string;
  /** Reason, naming what was expected and the value received. */
  readonly message: string;
}

/** Base class of the errors this project raises on purpose. */
export class ReloaderError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Raised when a Config file cannot be used; lists every problem found at once. */
export class ConfigError extends ReloaderError {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[], options?: ErrorOptions) {
    const lines = problems.map((problem) => `  ${problem.path}: ${problem.message}`);
    super(ErrorCode.ConfigInvalid, `invalid config file ${file}:\n${lines.join("\n")}`, options);
    this.file = file;
    this.problems = problems;
  }
}

/** Raised when a Config file cannot be read at all. */
export class ConfigUnreadableError extends ReloaderError {
  readonly file: string;

  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(
      ErrorCode.ConfigUnreadable,
      `cannot read config file ${file} (${reason}); check the path and its permissions`,
      options,
    );
    this.file = file;
  }
}

/** Raised when an identifier path uses syntax that cannot be evaluated. */
export class IdentifierPathError extends ReloaderError {
  readonly identifierPath: string;

  constructor(identifierPath: string, reason: string) {
    super(
      ErrorCode.IdentifierPathInvalid,
      `invalid identifier path "${identifierPath}": ${reason}`,
    );
    this.identifierPath = identifierPath;
  }
}

/** Raised when a command line or environment variable is not usable. */
export class UsageError extends ReloaderError {
  constructor(message: string) {
    super(ErrorCode.UsageInvalid, message);
  }
}
