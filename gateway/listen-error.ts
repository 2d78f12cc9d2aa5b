/**
 * Fields of a source's settings that set its listen address, such as `tcpSocket.port`, so
 * the message names the field to change.
 */
export interface AddressFields {
  readonly host: string;
  readonly port: string;
}

/** Raised when a TCP source or a Webhook HTTP server cannot bind its address. */
export class ListenError extends Error {
  readonly host: string;
  readonly port: number;
  /** System error code such as `EADDRINUSE`, when Node.js gave one. */
  readonly code: string | undefined;

  constructor(
    host: string,
    port: number,
    configName: string,
    sourceIndex: number,
    cause: NodeJS.ErrnoException,
    addressFields: AddressFields = { host: "tcpSocket.host", port: "tcpSocket.port" },
  ) {
    const address = formatAddress(host, port);
    const field = `spec.notificationSources[${sourceIndex}]`;
    const fields = {
      host: `${field}.${addressFields.host}`,
      port: `${field}.${addressFields.port}`,
    };
    super(
      `cannot listen on ${address} for Config "${configName}" source ${sourceIndex}: ` +
        explain(cause, fields),
      { cause },
    );
    this.name = "ListenError";
    this.host = host;
    this.port = port;
    this.code = cause.code;
  }
}

/** Formats `host:port`, with brackets around IPv6 addresses. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function explain(cause: NodeJS.ErrnoException, field: AddressFields): string {
  switch (cause.code) {
    case "EADDRINUSE":
      return `the address is already in use (EADDRINUSE); stop the other listener or change ${field.port}`;
    case "EACCES":
      return (
        `permission denied (EACCES); ports below 1024 need root or CAP_NET_BIND_SERVICE, ` +
        `so choose a higher ${field.port}`
      );
    case "EADDRNOTAVAIL":
      return `the address is not assigned to this host (EADDRNOTAVAIL); change ${field.host} to 0.0.0.0 or an address of this host`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host name cannot be resolved (${cause.code}); change ${field.host}`;
    default:
      return field.host === field.port
        ? `${cause.message}; check ${field.port}`
        : `${cause.message}; check ${field.host} and ${field.port}`;
  }
}
