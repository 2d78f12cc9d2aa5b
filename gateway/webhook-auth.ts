import { createHash, timingSafeEqual } from "node:crypto";
import type { WebhookAuth } from "../shared/config-schema.js";
import type { SecretKeyReader } from "./secret-key-reader.js";

/** Standard base64 with padding, as HTTP Basic credentials are encoded (RFC 7617). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Realm sent in `WWW-Authenticate` challenges. */
const REALM = "reloader";

/** SHA-256 digests of the credentials a source requires. */
type CredentialDigests =
  | { readonly kind: "basic"; readonly username: Buffer; readonly password: Buffer }
  | { readonly kind: "bearer"; readonly token: Buffer };

/**
 * Checks the `Authorization` header of requests against a source's credentials. Only
 * SHA-256 digests of the credentials are kept, and `refresh()` reads them again, so a
 * rotated Secret takes effect without a restart.
 */
export class WebhookAuthenticator {
  /** Value of the `WWW-Authenticate` header of a 401 response. */
  readonly challenge: string;
  private digests: CredentialDigests;

  private constructor(
    private readonly auth: WebhookAuth,
    private readonly reader: SecretKeyReader,
    digests: CredentialDigests,
  ) {
    this.digests = digests;
    this.challenge =
      auth.kind === "bearer"
        ? `Bearer realm="${REALM}"`
        : `Basic realm="${REALM}", charset="UTF-8"`;
  }

  /**
   * Reads the credentials of `auth` and returns an authenticator for them.
   *
   * @throws WebhookCredentialsError naming the Secret and key when one cannot be read.
   */
  static async load(auth: WebhookAuth, reader: SecretKeyReader): Promise<WebhookAuthenticator> {
    return new WebhookAuthenticator(auth, reader, await readDigests(auth, reader));
  }

  /**
   * Reads the credentials again. Returns whether they changed; on failure the previous
   * credentials stay in force.
   *
   * @throws WebhookCredentialsError naming the Secret and key when one cannot be read.
   */
  async refresh(): Promise<boolean> {
    const digests = await readDigests(this.auth, this.reader);
    const changed = !sameDigests(digests, this.digests);
    this.digests = digests;
    return changed;
  }

  /** Returns whether the header carries the configured credentials. */
  verify(authorization: string | undefined): boolean {
    const digests = this.digests;
    if (digests.kind === "bearer") {
      const presentedToken = credentialsOf(authorization, "bearer");
      if (presentedToken === undefined) return false;
      return timingSafeEqual(digest(presentedToken), digests.token);
    }

    const encoded = credentialsOf(authorization, "basic");
    if (encoded === undefined || !BASE64.test(encoded)) return false;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;

    // Both comparisons always run, so the time taken does not reveal which part is wrong.
    const usernameMatches = timingSafeEqual(digest(decoded.slice(0, colon)), digests.username);
    const passwordMatches = timingSafeEqual(digest(decoded.slice(colon + 1)), digests.password);
    return usernameMatches && passwordMatches;
  }
}

async function readDigests(auth: WebhookAuth, reader: SecretKeyReader): Promise<CredentialDigests> {
  if (auth.kind === "bearer") {
    return { kind: "bearer", token: digest(await reader.read(auth.token)) };
  }
  const [username, password] = await Promise.all([
    reader.read(auth.username),
    reader.read(auth.password),
  ]);
  return { kind: "basic", username: digest(username), password: digest(password) };
}

function sameDigests(a: CredentialDigests, b: CredentialDigests): boolean {
  if (a.kind === "bearer" && b.kind === "bearer") return a.token.equals(b.token);
  if (a.kind === "basic" && b.kind === "basic") {
    return a.username.equals(b.username) && a.password.equals(b.password);
  }
  return false;
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
