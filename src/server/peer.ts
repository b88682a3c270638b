import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";

/** The client certificate a TLS peer presented, as the handshake judged it. */
export interface PeerCertificate {
  /** Signed by a CA of tls_client_cafile, within its validity. */
  readonly authorized: boolean;
  /** Why not, in OpenSSL's words (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, …). */
  readonly authorizationError: string | undefined;
  /** "CN=…", "DNS:…" and "URI:…" entries: the forms tls_client_allowed_subjects matches. */
  readonly subjects: readonly string[];
}

/** Who is at the other end of a call's connection: the transport's knowledge, never a header's. */
export interface Peer {
  /** The remote address ("10.0.0.5", "::1"); undefined on a unix socket. */
  readonly address: string | undefined;
  readonly tls: boolean;
  /** Undefined when no certificate was presented (or the connection is not TLS). */
  readonly certificate: PeerCertificate | undefined;
}

/** The peer of the connection a call arrived on, for the caller-authentication layer. */
export const PEER = createContextKey<Peer | undefined>(undefined, { description: "connection peer" });

const peers = new WeakMap<Socket, Peer>();

/**
 * Context values that carry the peer of `socket`. A connection's peer does not change, so it is
 * read once per connection (the certificate's parsing is not free) and shared by its calls.
 */
export function peerContext(socket: Socket | null | undefined): ContextValues {
  const values = createContextValues();
  if (socket) values.set(PEER, peerOf(socket));
  return values;
}

function peerOf(socket: Socket): Peer {
  let peer = peers.get(socket);
  if (peer === undefined) {
    const tls = isTls(socket);
    peer = {
      address: socket.remoteAddress,
      tls,
      certificate: tls ? certificateOf(socket) : undefined,
    };
    peers.set(socket, peer);
  }
  return peer;
}

function isTls(socket: Socket): socket is TLSSocket {
  return "encrypted" in socket && socket.encrypted === true;
}

function certificateOf(socket: TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate();
  // An empty object when the client sent none.
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const subjects: string[] = [];
  const cn = cert.subject?.CN;
  for (const name of Array.isArray(cn) ? cn : cn ? [cn] : []) subjects.push(`CN=${name}`);
  for (const entry of splitAltNames(cert.subjectaltname)) {
    if (entry.startsWith("DNS:") || entry.startsWith("URI:")) subjects.push(entry);
  }
  const error = socket.authorizationError;
  return {
    authorized: socket.authorized,
    authorizationError: error === null || error === undefined ? undefined : String(error),
    subjects,
  };
}

/**
 * Node's subjectaltname is "DNS:a, URI:b"; a name holding a comma or quote is written as a JSON
 * string in it (node's own checkServerIdentity reads it so).
 */
function splitAltNames(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (const match of text.matchAll(pattern)) {
    const [, kind, raw] = match;
    if (kind === undefined || raw === undefined) continue;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    out.push(`${kind}:${value}`);
  }
  return out;
}
