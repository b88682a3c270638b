import { isIPv6 } from "node:net";
import { isAbsolute } from "node:path";
import type { ListenAddress } from "./types.js";

/**
 * The longest unix socket path, in bytes: Linux's sun_path holds 108 bytes, the last one the NUL.
 * A longer path cannot be bound (or is cut short, on older libuv), so the loader refuses it.
 */
export const MAX_UNIX_PATH_BYTES = 107;

/**
 * `host:port` or `[ipv6]:port`; undefined when malformed. The one rule for `listen`, `admin_listen`
 * and the probe's `--address`.
 */
export function parseTcpAddress(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || port > 65535 || (match?.[1] !== undefined && !isIPv6(host))) return undefined;
  return { host, port };
}

/**
 * `[metrics_access] listen`: a TCP address, or `unix:` and an absolute path. gRPC's own spelling
 * `unix:///absolute/path` (what a client dials) is taken too, so the same string works on both
 * sides. Undefined when malformed; the length of a unix path is the caller's to check
 * ({@link MAX_UNIX_PATH_BYTES}), so that it can say so.
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  if (text.startsWith("unix:")) {
    const rest = text.slice("unix:".length);
    // "unix:///p" is gRPC's URI form of "/p"; "unix://p" would name a host, which a socket has not.
    const path = rest.startsWith("///") ? rest.slice(2) : rest.startsWith("//") ? "" : rest;
    if (!isAbsolute(path) || path.includes("\0") || path.endsWith("/")) return undefined;
    return { kind: "unix", path };
  }
  const tcp = parseTcpAddress(text);
  return tcp && { kind: "tcp", ...tcp };
}

/** As written in `listen`, and in log lines and messages: `host:port` (IPv6 bracketed) or `unix:/path`. */
export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === "unix") return `unix:${address.path}`;
  return `${isIPv6(address.host) ? `[${address.host}]` : address.host}:${address.port}`;
}

/** The target gRPC clients (grpc-js, grpcio, grpc-go) dial for this address. */
export function grpcTarget(address: ListenAddress): string {
  return address.kind === "unix" ? `unix://${address.path}` : formatListenAddress(address);
}
