import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SecretKeySelector, WebhookAuth } from "../shared/config-schema.js";

/** Directory under which Secrets referenced by Webhook sources are mounted, by default. */
export const DEFAULT_SECRETS_DIR = "/etc/reloader/secrets";

/** Realm sent in `WWW-Authenticate` challenges. */
const REALM = "reloader";

/** Raised when a credential file of a Webhook source cannot be read or is empty. */
export class WebhookCredentialsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookCredentialsError";
  }
}

/**
 * Returns the file that holds one key of a referenced Secret:
 * `<secretsDir>/<namespace>/<name>/<key>`, or `<secretsDir>/<name>/<key>` when the
 * reference has no namespace. The gateway never calls the Kubernetes API, so the Secret
 * must be mounted there (a Secret volume writes one file per key).
 */
export function secretKeyFile(secretsDir: string, selector: SecretKeySelector): string {
  return selector.namespace === undefined
    ? join(secretsDir, selector.name, selector.key)
    : join(secretsDir, selector.namespace, selector.name, selector.key);
}

/** Checks the `Authorization` header of requests against a source's credentials. */
export interface WebhookAuthenticator {
  /** Value of the `WWW-Authenticate` header of a 401 response. */
  readonly challenge: string;
  /** Returns whether the header carries the configured credentials. */
  verify(authorization: string | undefined): boolean;
}

/**
 * Reads the credentials of `auth` from their mounted files and returns an authenticator. File
 * contents are used byte for byte, so a trailing newline is part of the credential.
 *
 * @throws WebhookCredentialsError naming the file and the Secret key when a file is
 *   missing, unreadable or empty.
 */
export async function loadWebhookAuthenticator(
  auth: WebhookAuth,
  secretsDir: string,
): Promise<WebhookAuthenticator> {
  if (auth.kind === "bearer") {
    const token = digest(await readSecretKey(secretsDir, auth.token));
    return {
      challenge: `Bearer realm="${REALM}"`,
      verify: (authorization) => {
        const presentedToken = credentialsOf(authorization, "bearer");
        if (presentedToken === undefined) return false;
        return digestsEqual(digest(Buffer.from(presentedToken, "utf8")), token);
      },
    };
  }

  const username = digest(await readSecretKey(secretsDir, auth.username));
  const password = digest(await readSecretKey(secretsDir, auth.password));
  return {
    challenge: `Basic realm="${REALM}", charset="UTF-8"`,
    verify: (authorization) => {
      const encoded = credentialsOf(authorization, "basic");
      if (encoded === undefined) return false;
      const decoded = Buffer.from(encoded, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) return false;

      // Both comparisons always run, so the time taken does not reveal which part is wrong.
      const usernameMatches = digestsEqual(digest(decoded.slice(0, colon)), username);
      const passwordMatches = digestsEqual(digest(decoded.slice(colon + 1)), password);
      return usernameMatches && passwordMatches;
    },
  };
}

async function readSecretKey(secretsDir: string, selector: SecretKeySelector): Promise<Buffer> {
  const file = secretKeyFile(secretsDir, selector);
  const reference = `key ${JSON.stringify(selector.key)} of Secret ${
    selector.namespace === undefined ? "" : `${selector.namespace}/`
  }${selector.name}`;

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

/** Returns the text after the scheme when the header uses `scheme` (case-insensitive). */
function credentialsOf(authorization: string | undefined, scheme: string): string | undefined {
  if (authorization === undefined) return undefined;
  const space = authorization.indexOf(" ");
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== scheme) return undefined;
  return authorization.slice(space + 1).trim();
}

function digest(value: Buffer | string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Compares two SHA-256 digests in constant time; equal lengths are guaranteed. */
function digestsEqual(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}
