import { readFileSync, statSync } from "node:fs";
import { createSecureContext, type SecureContextOptions, type TLSSocket } from "node:tls";
import { UsageError } from "../shared/errors.js";
import { LogRateLimiter } from "../shared/log-rate-limiter.js";
import type { Logger } from "../shared/logger.js";

/** Time between checks of the TLS files for changes, in ms, when unset. */
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 5000;

/** Paths of the PEM files that TCP sources serve TLS with. */
export interface TlsFilePaths {
  /** Server certificate chain, PEM. */
  readonly certFile: string;
  /** Private key of the server certificate, PEM. */
  readonly keyFile: string;
  /**
   * CA bundle, PEM, that client certificates must chain to. When set, every client must
   * present a certificate signed by it (mutual TLS).
   */
  readonly caFile?: string;
}

/** Options of a `TlsFiles`. */
export interface TlsFilesOptions extends TlsFilePaths {
  readonly logger: Logger;
  /** Time between checks of the files for changes, in ms. Default 5000. */
  readonly reloadIntervalMs?: number;
}

type Listener = (options: SecureContextOptions) => void;

/**
 * The server certificate, key and optional client CA of the TCP sources. Reads the files at
 * construction and, while anyone subscribes, checks them with `fs.stat` every
 * `reloadIntervalMs`. When one changed, the files are read again and subscribers receive
 * the new options. A file that cannot be read or used is logged at error and the previous
 * options stay in force.
 */
export class TlsFiles {
  readonly clientCertificateRequired: boolean;
  private options: SecureContextOptions;
  private fingerprint: string;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private readonly reloadIntervalMs: number;
  /** A file that stays missing is logged once a minute, not at every check. */
  private readonly unreadableWarnings = new LogRateLimiter(1, 60_000);

  /** @throws UsageError naming the file when a file is missing or not a usable PEM. */
  constructor(private readonly settings: TlsFilesOptions) {
    this.clientCertificateRequired = settings.caFile !== undefined;
    this.reloadIntervalMs = settings.reloadIntervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS;
    try {
      this.fingerprint = this.statFingerprint();
      this.options = this.readOptions();
    } catch (error) {
      throw new UsageError(
        `TLS files are not usable: ${(error as Error).message}; ` +
          "check --tls-cert-file, --tls-key-file and --tls-ca-file",
      );
    }
  }

  /** Current certificate, key and CA. */
  get secureContextOptions(): SecureContextOptions {
    return this.options;
  }

  /** Calls `listener` with the new options after each reload; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    this.timer ??= setInterval(() => this.check(), this.reloadIntervalMs).unref();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private check(): void {
    let fingerprint: string;
    try {
      fingerprint = this.statFingerprint();
    } catch (error) {
      // Kubernetes swaps mounted Secret files through a symlink, so a file can be missing
      // for a moment; the next check reads it.
      const permit = this.unreadableWarnings.take();
      if (permit.allowed) {
        this.settings.logger.error(
          { err: error, suppressed: permit.suppressed },
          "TLS file not readable; keeping the loaded certificate",
        );
      }
      return;
    }
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;

    let options: SecureContextOptions;
    try {
      options = this.readOptions();
    } catch (error) {
      this.settings.logger.error(
        { err: error, certFile: this.settings.certFile, keyFile: this.settings.keyFile },
        "changed TLS files are not usable; keeping the loaded certificate",
      );
      return;
    }
    this.options = options;
    this.settings.logger.info(
      { certFile: this.settings.certFile, caFile: this.settings.caFile },
      "TLS certificate reloaded",
    );
    for (const listener of this.listeners) listener(options);
  }

  /** Reads the files and checks that they form a usable context (the key matches the cert). */
  private readOptions(): SecureContextOptions {
    const { certFile, keyFile, caFile } = this.settings;
    const options: SecureContextOptions = {
      cert: readPem(certFile),
      key: readPem(keyFile),
      ...(caFile === undefined ? {} : { ca: readPem(caFile) }),
    };
    createSecureContext(options);
    return options;
  }

  private statFingerprint(): string {
    const { certFile, keyFile, caFile } = this.settings;
    return [certFile, keyFile, caFile]
      .filter((file): file is string => file !== undefined)
      .map((file) => {
        const stat = statSync(file);
        return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      })
      .join("|");
  }
}

function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unknown error";
    throw new Error(`cannot read ${file}: ${code}`);
  }
}

/**
 * Returns the TLS file paths of the flags, or undefined when neither cert nor key is set.
 *
 * @throws UsageError when only one of cert and key is set, or a CA without them.
 */
export function tlsFilePaths(settings: {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
}): TlsFilePaths | undefined {
  const { certFile, keyFile, caFile } = settings;
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined) {
      throw new UsageError(
        "--tls-ca-file needs --tls-cert-file and --tls-key-file, because client certificates are only checked on TLS sources",
      );
    }
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    const missing = certFile === undefined ? "--tls-cert-file" : "--tls-key-file";
    throw new UsageError(
      `--tls-cert-file and --tls-key-file must be set together; ${missing} is missing`,
    );
  }
  return { certFile, keyFile, ...(caFile === undefined ? {} : { caFile }) };
}

/**
 * Returns why the client certificate of a finished handshake is not accepted, or undefined
 * when it chains to the CA. Node.js reports a missing certificate as an issuer error, so
 * that case is named here.
 */
export function clientCertificateProblem(socket: TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate();
  if (certificate === null || Object.keys(certificate).length === 0) return "no client certificate";
  return String(socket.authorizationError ?? "client certificate not verified");
}
