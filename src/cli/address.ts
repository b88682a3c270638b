import type { ListenAddress } from "../config/types.js";

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
