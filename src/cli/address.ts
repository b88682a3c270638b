import { isIPv6 } from "node:net";
import { parseTcpAddress } from "../config/listen-address.js";
import type { ListenAddress } from "../config/types.js";

/** A host and a port, the host without brackets (IPv6 literals bare: "::1"). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * `host:port` or `[ipv6]:port`, the TCP form of `[metrics_access] listen`; undefined when
 * malformed. The loader's own rule, so `--address` takes exactly what `listen` takes for TCP.
 */
export function parseHostPort(text: string): HostPort | undefined {
  return parseTcpAddress(text);
}

/**
 * Where a client on the same machine reaches a server listening on `listen`: a wildcard address
 * accepts connections on every interface, so the loopback of the same family is dialled instead
 * (a container's HEALTHCHECK runs beside the server); a unix socket is dialled as it is.
 */
export function dialAddress(listen: ListenAddress): ListenAddress {
  if (listen.kind === "unix") return listen;
  if (listen.host === "0.0.0.0") return { ...listen, host: "127.0.0.1" };
  if (listen.host === "::" || listen.host === "0:0:0:0:0:0:0:0") return { ...listen, host: "::1" };
  return listen;
}

/** `host:port`, IPv6 bracketed, as it is written in a URL or in `listen`. */
export function formatHostPort(address: HostPort): string {
  return `${isIPv6(address.host) ? `[${address.host}]` : address.host}:${address.port}`;
}
