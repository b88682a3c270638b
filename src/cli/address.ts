import { isIPv6 } from "node:net";

/** A host and a port, the host without brackets (IPv6 literals bare: "::1"). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * `host:port` or `[ipv6]:port`, the form of `[metrics_access] listen`; undefined when malformed.
 * The same rule as the loader's, so `--address` takes exactly what `listen` takes.
 */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || port > 65535 || (match?.[1] !== undefined && !isIPv6(host))) return undefined;
  return { host, port };
}

/**
 * Where a client on the same machine reaches a server listening on `listen`: a wildcard address
 * accepts connections on every interface, so the loopback of the same family is dialled instead
 * (a container's HEALTHCHECK runs beside the server).
 */
export function dialAddress(listen: HostPort): HostPort {
  if (listen.host === "0.0.0.0") return { host: "127.0.0.1", port: listen.port };
  if (listen.host === "::" || listen.host === "0:0:0:0:0:0:0:0") return { host: "::1", port: listen.port };
  return listen;
}

/** `host:port`, IPv6 bracketed, as it is written in a URL or in `listen`. */
export function formatHostPort(address: HostPort): string {
  return `${isIPv6(address.host) ? `[${address.host}]` : address.host}:${address.port}`;
}
