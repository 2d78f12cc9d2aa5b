import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SecretKeySelector } from "../shared/config-schema.js";
import { ErrorCode, ReloaderError } from "../shared/errors.js";

/** Directory under which Secrets referenced by Webhook sources are mounted, by default. */
export const DEFAULT_SECRETS_DIR = "/etc/reloader/secrets";

/** Raised when a credential that a Webhook source references cannot be read or is empty. */
export class WebhookCredentialsError extends ReloaderError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.WebhookCredentialsUnreadable, message, options);
  }
}

/** Reads the keys of Kubernetes Secrets that Webhook sources reference. */
export interface SecretKeyReader {
  /** Source of the keys, for logs: `kubernetes` or `files`. */
  readonly kind: "kubernetes" | "files";
  /**
   * Returns the bytes of one key.
   *
   * @throws WebhookCredentialsError naming the Secret, the key and the fix when the key
   *   cannot be read or is empty.
   */
  read(selector: SecretKeySelector): Promise<Buffer>;
}

/** Describes a Secret key for messages, such as `key "token" of Secret reloader/auth`. */
export function describeSecretKey(selector: SecretKeySelector, namespace?: string): string {
  const owner = selector.namespace ?? namespace;
  const secret = owner === undefined ? selector.name : `${owner}/${selector.name}`;
  return `key ${JSON.stringify(selector.key)} of Secret ${secret}`;
}

/**
 * Returns the file that holds one key of a referenced Secret:
 * `<secretsDir>/<namespace>/<name>/<key>`, or `<secretsDir>/<name>/<key>` when the
 * reference has no namespace. A Secret volume writes one file per key.
 */
export function secretKeyFile(secretsDir: string, selector: SecretKeySelector): string {
  return selector.namespace === undefined
    ? join(secretsDir, selector.name, selector.key)
    : join(secretsDir, selector.namespace, selector.name, selector.key);
}

/**
 * Reads Secret keys from files where the Secrets are mounted (see `secretKeyFile`), for runs
 * without access to the Kubernetes API. File contents are used byte for byte, so a trailing
 * newline is part of the credential.
 */
export class MountedSecretFiles implements SecretKeyReader {
  readonly kind = "files";

  constructor(private readonly secretsDir: string = DEFAULT_SECRETS_DIR) {}

  async read(selector: SecretKeySelector): Promise<Buffer> {
    const file = secretKeyFile(this.secretsDir, selector);
    const reference = describeSecretKey(selector);

    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new WebhookCredentialsError(
        `cannot read ${reference} from ${file} (${code}); mount the Secret there, ` +
          "or point --secrets-dir (SECRETS_DIR) at the directory that holds it",
        { cause: error },
      );
    }
    if (content.length === 0) {
      throw new WebhookCredentialsError(`${reference} in ${file} is empty; store the credential`);
    }
    return content;
  }
}
