import { once } from "node:events";
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createH2cServer,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { errorCodeOf, MetricsAccessError } from "../errors.js";

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly handler: Handler;
}

export interface Transport {
  readonly port: number;
  /** Stops accepting, lets calls in flight end, and resolves when every connection is closed. */
  drain(): Promise<void>;
  /** Closes whatever is still open, at once. */
  destroy(): void;
}

const HTTP2_PREFACE = "PRI * HTTP/2.0";
/** A client that connects and says nothing is dropped after this. */
const SNIFF_TIMEOUT_MS = 10_000;

/**
 * One port for every protocol. With TLS, ALPN picks HTTP/2 or HTTP/1.1. In plaintext the first
 * bytes decide: the HTTP/2 connection preface goes to the h2c server (gRPC, and Connect or
 * gRPC-Web with prior knowledge), anything else to an HTTP/1.1 server (Connect JSON from curl,
 * gRPC-Web from browsers).
 */
export async function listen(options: TransportOptions): Promise<Transport> {
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const h1 = createHttp1Server(options.handler);
  let h2: Http2Server | Http2SecureServer;
  let entry: NetServer;
  if (options.tls) {
    const secure = createSecureServer(
      { cert: options.tls.cert, key: options.tls.key, allowHTTP1: true },
      options.handler,
    );
    h2 = secure;
    entry = secure;
  } else {
    const h2c = createH2cServer(options.handler);
    h2 = h2c;
    entry = createTcpServer((socket) => {
      // Small gRPC frames written through the replaying stream would otherwise wait on Nagle and
      // the peer's delayed ACK: 40 ms a call.
      socket.setNoDelay(true);
      sniff(socket, (first, isHttp2) => {
        if (isHttp2) {
          h2c.emit("connection", replaying(socket, first));
        } else {
          socket.unshift(first);
          h1.emit("connection", socket);
        }
      });
    });
    // node:http arms its connection tracking (idle closing, headers and request timeouts) on
    // "listening"; this server never listens itself, it is handed sockets.
    h1.emit("listening");
  }
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  entry.on("connection", (socket: Socket) => {
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
 * split), then hands the socket over, paused, with the bytes read. Until then nobody else listens
 * to the socket, so a reset or a silent client is dealt with here.
 */
function sniff(socket: Socket, handOver: (first: Buffer, isHttp2: boolean) => void): void {
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
    handOver(seen, head === HTTP2_PREFACE);
    socket.resume();
  };
  socket.on("error", drop);
  socket.setTimeout(SNIFF_TIMEOUT_MS, drop);
  socket.on("data", onData);
}

/**
 * The socket as a stream that first yields the bytes already read. node:http2 reads a net.Socket
 * through its native handle, past anything unshifted in JavaScript, so the sniffed preface would be
 * lost; a plain Duplex makes http2 read through JavaScript instead.
 */
function replaying(socket: Socket, first: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  stream.push(first);
  socket.on("data", (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once("end", () => stream.push(null));
  socket.once("close", () => stream.destroy());
  socket.on("error", (err) => stream.destroy(err));
  return stream;
}
