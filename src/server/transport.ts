import { once } from "node:events";
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttp2Server, type Http2Session } from "node:http2";
import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import { formatListenAddress } from "../config/listen-address.js";
import type { ListenAddress, ServerTls } from "../config/types.js";
import { errorCodeOf, MetricsAccessError } from "../errors.js";
import type { Logger } from "../log.js";
import { CONNECTION_LIMITS, type ConnectionLimits } from "./connection-limits.js";
import type { StreamHandler } from "./grpc-unary.js";
import { type TlsCheck, type TlsPem, type TlsReloader, watchTlsFiles } from "./tls-reload.js";
import { claimSocketPath, removeSocketFile, restrictSocketFile } from "./unix-socket.js";

export interface TransportOptions {
  /** A TCP address (port 0: any free port) or a unix socket. */
  readonly listen: ListenAddress;
  /** TLS (HTTP/2 and HTTP/1.1 by ALPN), and mutual TLS with `clientCa`; undefined: plaintext. */
  readonly tls: ServerTls | undefined;
  /** Between two looks at the TLS files for a rotated certificate; 0: never. */
  readonly tlsReloadIntervalMs: number;
  readonly logger: Pick<Logger, "info" | "warn">;
  /** Every HTTP/2 stream, h2c or h2 over TLS. */
  readonly onStream: StreamHandler;
  /** Every HTTP/1.1 request, plaintext or TLS. */
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** Shorter bounds on connections that carry no request yet, for tests; see ConnectionLimits. */
  readonly limits?: Partial<ConnectionLimits> | undefined;
}

export interface Transport {
  /** The address as bound: with the port chosen for port 0. */
  readonly address: ListenAddress;
  /** The TCP port; 0 on a unix socket. */
  readonly port: number;
  /** One look at the TLS files now; "unchanged" without TLS. */
  checkTls(): Promise<TlsCheck>;
  /** Stops accepting, lets calls in flight end, and resolves when every connection is closed. */
  drain(): Promise<void>;
  /** Closes whatever is still open, at once. */
  destroy(): void;
}

const HTTP2_PREFACE = "PRI * HTTP/2.0";

/**
 * One port for every protocol, served by two servers that never listen themselves but are handed
 * connections: an HTTP/2 server (stream API only, see below) and an HTTP/1.1 server. With TLS,
 * ALPN picks one. In plaintext the first bytes decide: the HTTP/2 connection preface goes to
 * HTTP/2 (gRPC, and Connect or gRPC-Web with prior knowledge), anything else to HTTP/1.1 (Connect
 * JSON from curl, gRPC-Web from browsers). The port is a TCP address or a unix socket alike.
 *
 * The HTTP/2 server has a "stream" listener and no "request" listener: a "request" listener turns
 * on node's compatibility layer for every stream, which costs time on each call and would hand
 * every stream to a second consumer.
 */
export async function listen(options: TransportOptions): Promise<Transport> {
  const limits: ConnectionLimits = { ...CONNECTION_LIMITS, ...options.limits };
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  // HTTP/1.1 connections handed over and still waiting for their first request (see toHttp1).
  const firstRequest = new WeakMap<Socket, NodeJS.Timeout>();
  const h1 = createHttp1Server(
    {
      headersTimeout: limits.http1HeadersMs,
      requestTimeout: limits.http1RequestMs,
      connectionsCheckingInterval: limits.http1CheckIntervalMs,
    },
    (req, res) => {
      const timer = firstRequest.get(req.socket);
      if (timer !== undefined) {
        clearTimeout(timer);
        firstRequest.delete(req.socket);
      }
      options.onRequest(req, res);
    },
  );
  const h2 = createHttp2Server();
  h2.on("stream", options.onStream);
  // node:http arms its connection tracking (idle closing, headers and request timeouts) on
  // "listening"; this server never listens itself, it is handed sockets.
  h1.emit("listening");
  /**
   * node:http bounds a request's headers from its first byte only: a connection that sends nothing
   * at all (a TLS client silent after its handshake) would be kept for good.
   */
  const toHttp1 = (socket: Socket) => {
    // One check interval later than headersTimeout: a request under way gets node's 408 first.
    const timer = setTimeout(() => socket.destroy(), limits.http1HeadersMs + limits.http1CheckIntervalMs);
    firstRequest.set(socket, timer);
    socket.once("close", () => clearTimeout(timer));
    h1.emit("connection", socket);
  };

  let entry: NetServer;
  let tlsServer: TlsServer | undefined;
  if (options.tls) {
    const clientCa = options.tls.clientCa?.pem;
    tlsServer = createTlsServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        ALPNProtocols: ["h2", "http/1.1"],
        handshakeTimeout: limits.tlsHandshakeMs,
        // Mutual TLS: every client is asked for a certificate, but one without (or with one the
        // CAs did not sign) is not turned away here: health checks and reflection stay open to it,
        // and the per-call check answers UNAUTHENTICATED from socket.authorized and
        // authorizationError, with a message a TLS alert could not carry.
        ...(clientCa ? { requestCert: true, rejectUnauthorized: false, ca: clientCa } : {}),
      },
      (socket: TLSSocket) => {
        // No data has been read from the decrypted side yet: either server takes it from the start.
        if (socket.alpnProtocol === "h2") h2.emit("connection", socket);
        else toHttp1(socket);
      },
    );
    // A failed or timed-out handshake is reported here and nowhere else; node leaves the socket
    // open after handshakeTimeout unless it is closed here.
    tlsServer.on("tlsClientError", (_err: Error, socket: TLSSocket) => socket.destroy());
    entry = tlsServer;
  } else {
    entry = createTcpServer((socket) => {
      sniff(socket, limits.firstBytesMs, (isHttp2) => {
        if (isHttp2) {
          // Left paused for good: node:http2 takes the unshifted bytes from the stream's buffer
          // when it creates the session, then reads the socket's handle natively. Resuming it
          // here would hand the preface to nobody.
          h2.emit("connection", socket);
        } else {
          toHttp1(socket);
          socket.resume();
        }
      });
    });
  }
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    const handshake = setTimeout(() => session.destroy(), limits.http2SettingsMs);
    session.once("remoteSettings", () => clearTimeout(handshake));
    session.once("close", () => {
      clearTimeout(handshake);
      sessions.delete(session);
    });
  });
  entry.on("connection", (socket: Socket) => {
    // Small gRPC frames would otherwise wait on Nagle and the peer's delayed ACK: 40 ms a call.
    // (A no-op on a unix socket.)
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  const socketFile = await bind(entry, options.listen);
  const bound = entry.address();
  const address: ListenAddress =
    options.listen.kind === "tcp" && typeof bound === "object" && bound
      ? { ...options.listen, port: bound.port }
      : options.listen;
  const reloader = tlsReloader(options, tlsServer);

  return {
    address,
    port: address.kind === "tcp" ? address.port : 0,
    checkTls: () => reloader?.check() ?? Promise.resolve("unchanged"),
    async drain() {
      reloader?.stop();
      const closed = new Promise<void>((resolve) => entry.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const idleTimer = setInterval(() => h1.closeIdleConnections(), 100);
      await closed;
      clearInterval(idleTimer);
      h1.close();
      socketFile?.remove();
    },
    destroy() {
      reloader?.stop();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      h1.closeAllConnections();
    },
  };
}

/**
 * Listens on the address; for a unix socket, first removes a stale socket file (see
 * claimSocketPath) and then restricts the new one to owner and group. Resolves with what removes
 * the socket file on drain, for a unix socket.
 */
async function bind(entry: NetServer, listen: ListenAddress): Promise<{ remove(): void } | undefined> {
  const failed = (err: unknown) =>
    new MetricsAccessError(
      "unavailable",
      `[metrics_access] listen ${formatListenAddress(listen)}: cannot listen (${errorCodeOf(err, "unknown error")})`,
      { reason: "LISTEN_FAILED", cause: err },
    );
  if (listen.kind === "tcp") {
    entry.listen(listen.port, listen.host);
    await once(entry, "listening").catch((err: unknown) => {
      throw failed(err);
    });
    return undefined;
  }
  await claimSocketPath(listen.path).catch((err: unknown) => {
    throw failed(err);
  });
  entry.listen(listen.path);
  let identity: { dev: number; ino: number } | undefined;
  // bind(2) and listen(2) ran synchronously; no connection is accepted before the loop turns.
  if (entry.listening) {
    try {
      identity = restrictSocketFile(listen.path);
    } catch (err) {
      entry.close();
      throw failed(err);
    }
  }
  await once(entry, "listening").catch((err: unknown) => {
    throw failed(err);
  });
  const path = listen.path;
  return {
    remove: () => {
      if (identity) removeSocketFile(path, identity);
    },
  };
}

function tlsReloader(options: TransportOptions, server: TlsServer | undefined): TlsReloader | undefined {
  const tls = options.tls;
  if (!tls || !server) return undefined;
  return watchTlsFiles({
    files: { certFile: tls.certFile, keyFile: tls.keyFile, clientCaFile: tls.clientCa?.file },
    current: { cert: tls.cert, key: tls.key, clientCa: tls.clientCa?.pem },
    intervalMs: options.tlsReloadIntervalMs,
    logger: options.logger,
    // New handshakes use the new context; a connection keeps the one it was established with.
    apply: (pem: TlsPem) =>
      server.setSecureContext({
        cert: pem.cert,
        key: pem.key,
        ...(pem.clientCa ? { ca: pem.clientCa } : {}),
      }),
  });
}

/**
 * Reads until the first bytes tell HTTP/2's preface from anything else (a preface may arrive
 * split), then puts them back and hands the socket over, paused. Until then nobody else listens
 * to the socket, so a reset or a silent client is dealt with here: dropped `timeoutMs` after
 * accept, however it trickles bytes.
 */
function sniff(socket: Socket, timeoutMs: number, handOver: (isHttp2: boolean) => void): void {
  const drop = () => socket.destroy();
  const timer = setTimeout(drop, timeoutMs);
  socket.once("close", () => clearTimeout(timer));
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const head = seen.toString("latin1", 0, HTTP2_PREFACE.length);
    if (head.length < HTTP2_PREFACE.length && HTTP2_PREFACE.startsWith(head)) return;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("error", drop);
    socket.pause();
    socket.unshift(seen);
    handOver(head === HTTP2_PREFACE);
  };
  socket.on("error", drop);
  socket.on("data", onData);
}
