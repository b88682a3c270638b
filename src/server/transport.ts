import { once } from "node:events";
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttp2Server, type Http2Session } from "node:http2";
import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { errorCodeOf, MetricsAccessError } from "../errors.js";
import type { StreamHandler } from "./grpc-unary.js";

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** Every HTTP/2 stream, h2c or h2 over TLS. */
  readonly onStream: StreamHandler;
  /** Every HTTP/1.1 request, plaintext or TLS. */
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface Transport {
  readonly port: number;
  /** Stops accepting, lets calls in flight end, and resolves when every connection is closed. */
  drain(): Promise<void>;
  /** Closes whatever is still open, at once. */
  destroy(): void;
}

const HTTP2_PREFACE = "PRI * HTTP/2.0";
/**
 * A client that connects and says nothing is dropped after this; so is one that sends the HTTP/2
 * preface but not the SETTINGS frame that must follow it.
 */
const SNIFF_TIMEOUT_MS = 10_000;

/**
 * One port for every protocol, served by two servers that never listen themselves but are handed
 * connections: an HTTP/2 server (stream API only, see below) and an HTTP/1.1 server. With TLS,
 * ALPN picks one. In plaintext the first bytes decide: the HTTP/2 connection preface goes to
 * HTTP/2 (gRPC, and Connect or gRPC-Web with prior knowledge), anything else to HTTP/1.1 (Connect
 * JSON from curl, gRPC-Web from browsers).
 *
 * The HTTP/2 server has a "stream" listener and no "request" listener: a "request" listener turns
 * on node's compatibility layer for every stream, which costs time on each call and would hand
 * every stream to a second consumer.
 */
export async function listen(options: TransportOptions): Promise<Transport> {
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const h1 = createHttp1Server(options.onRequest);
  const h2 = createHttp2Server();
  h2.on("stream", options.onStream);
  // node:http arms its connection tracking (idle closing, headers and request timeouts) on
  // "listening"; this server never listens itself, it is handed sockets.
  h1.emit("listening");
  let entry: NetServer;
  if (options.tls) {
    entry = createTlsServer(
      { cert: options.tls.cert, key: options.tls.key, ALPNProtocols: ["h2", "http/1.1"] },
      (socket: TLSSocket) => {
        // No data has been read from the decrypted side yet: either server takes it from the start.
        if (socket.alpnProtocol === "h2") h2.emit("connection", socket);
        else h1.emit("connection", socket);
      },
    );
  } else {
    entry = createTcpServer((socket) => {
      sniff(socket, (isHttp2) => {
        if (isHttp2) {
          // Left paused for good: node:http2 takes the unshifted bytes from the stream's buffer
          // when it creates the session, then reads the socket's handle natively. Resuming it
          // here would hand the preface to nobody.
          h2.emit("connection", socket);
        } else {
          h1.emit("connection", socket);
          socket.resume();
        }
      });
    });
  }
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    // node:http2 sets no timeout of its own: without this, 24 bytes of preface would hold a
    // connection (and a file descriptor) for as long as the client likes.
    const handshake = setTimeout(() => session.destroy(), SNIFF_TIMEOUT_MS);
    session.once("remoteSettings", () => clearTimeout(handshake));
    session.once("close", () => {
      clearTimeout(handshake);
      sessions.delete(session);
    });
  });
  entry.on("connection", (socket: Socket) => {
    // Small gRPC frames would otherwise wait on Nagle and the peer's delayed ACK: 40 ms a call.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  entry.listen(options.port, options.host);
  try {
    await once(entry, "listening");
  } catch (err) {
    throw new MetricsAccessError(
      "unavailable",
      `[metrics_access] listen ${options.host}:${options.port}: cannot listen (${errorCodeOf(err, "unknown error")})`,
      {
        reason: "LISTEN_FAILED",
        cause: err,
      },
    );
  }
  const address = entry.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  return {
    port,
    async drain() {
      const closed = new Promise<void>((resolve) => entry.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const idleTimer = setInterval(() => h1.closeIdleConnections(), 100);
      await closed;
      clearInterval(idleTimer);
      h1.close();
    },
    destroy() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      h1.closeAllConnections();
    },
  };
}

/**
 * Reads until the first bytes tell HTTP/2's preface from anything else (a preface may arrive
 * split), then puts them back and hands the socket over, paused. Until then nobody else listens
 * to the socket, so a reset or a silent client is dealt with here.
 */
function sniff(socket: Socket, handOver: (isHttp2: boolean) => void): void {
  const drop = () => socket.destroy();
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const head = seen.toString("latin1", 0, HTTP2_PREFACE.length);
    if (head.length < HTTP2_PREFACE.length && HTTP2_PREFACE.startsWith(head)) return;
    socket.off("data", onData);
    socket.off("error", drop);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    handOver(head === HTTP2_PREFACE);
  };
  socket.on("error", drop);
  socket.setTimeout(SNIFF_TIMEOUT_MS, drop);
  socket.on("data", onData);
}
