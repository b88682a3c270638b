/**
 * How long a connection may take before it carries a request. A connection that never gets there
 * (silent, or trickling bytes: "slowloris") holds a file descriptor and some memory; past these
 * bounds it is dropped, and the calls of other connections never wait on it (the event loop does
 * not block on a slow peer). Once a connection carries calls, the calls' own deadlines and the
 * shutdown grace period bound them instead.
 */
export interface ConnectionLimits {
  /**
   * Plaintext: from accept until the first bytes tell HTTP/2's preface from HTTP/1.1 (at most 14
   * bytes). A wall-clock bound, not an idle one: a byte every few seconds does not extend it.
   */
  readonly firstBytesMs: number;
  /** TLS: from accept until the handshake is done (tls.Server handshakeTimeout). */
  readonly tlsHandshakeMs: number;
  /**
   * HTTP/2, plaintext or TLS: from the session until the client's SETTINGS frame (node:http2 has
   * no bound of its own: 24 bytes of preface would hold a session for as long as the client likes).
   */
  readonly http2SettingsMs: number;
  /**
   * HTTP/1.1: the headers of a request, from the hand-over for the first request (node:http bounds
   * nothing before a request's first byte, so a TLS connection that says nothing after its
   * handshake would stay), from the request's first byte for the next ones (headersTimeout).
   */
  readonly http1HeadersMs: number;
  /** HTTP/1.1: a whole request, body included (requestTimeout); bodies are 1 MiB at most. */
  readonly http1RequestMs: number;
  /** How often node:http looks for requests past those two bounds (connectionsCheckingInterval). */
  readonly http1CheckIntervalMs: number;
}

/**
 * 10 s to start talking is far beyond any client on a working network (a TLS handshake is a few
 * round trips), yet short enough that a flood of silent connections cannot pile up for minutes:
 * node's own defaults are 120 s for a TLS handshake, 60 s for headers, and nothing at all for an
 * HTTP/2 preface or a TLS connection that sends no request.
 */
export const CONNECTION_LIMITS: ConnectionLimits = {
  firstBytesMs: 10_000,
  tlsHandshakeMs: 10_000,
  http2SettingsMs: 10_000,
  http1HeadersMs: 10_000,
  http1RequestMs: 30_000,
  // A past-due request is found at most this late; the scan is over HTTP/1.1 connections only.
  http1CheckIntervalMs: 1_000,
};
