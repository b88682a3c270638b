/**
 * A unary gRPC call over a bare node:http2 session, with no client-side deadline: the
 * `grpc-timeout` header is sent and nothing else enforces it, so the status that comes back (and
 * when) is the server's own doing, not a client timer's.
 */
import { type ClientHttp2Session, connect, constants } from "node:http2";

export interface RawOutcome {
  /** grpc-status from the trailers (or trailers-only headers); -1 when the stream ended without one. */
  readonly status: number;
  readonly message: string;
  /** The x-error-reason metadata, when sent. */
  readonly reason: string | undefined;
  readonly elapsedMs: number;
}

export function rawSession(port: number): ClientHttp2Session {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  return session;
}

/** One length-prefixed, uncompressed gRPC message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * POSTs `message` to `path` (e.g. `/metricsaccess.v1.MetricsService/GetHostMetric`) with
 * `grpc-timeout: <timeoutMs>m` when given; resolves with the status, never rejects on a gRPC error.
 * A `safetyMs` timer (default 30 s) resets the stream only so that a test cannot hang.
 */
export function rawUnary(
  session: ClientHttp2Session,
  path: string,
  message: Uint8Array,
  options: { timeoutMs?: number; safetyMs?: number; headers?: Readonly<Record<string, string>> } = {},
): Promise<RawOutcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc",
      te: "trailers",
      ...options.headers,
    };
    if (options.timeoutMs !== undefined) headers["grpc-timeout"] = `${options.timeoutMs}m`;
    const stream = session.request(headers);
    const safety = setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), options.safetyMs ?? 30_000);
    let status = -1;
    let grpcMessage = "";
    let reason: string | undefined;
    const read = (h: Record<string, string | string[] | undefined>) => {
      const s = h["grpc-status"];
      if (typeof s === "string") status = Number(s);
      const m = h["grpc-message"];
      if (typeof m === "string") grpcMessage = decodeURIComponent(m);
      const r = h["x-error-reason"];
      if (typeof r === "string") reason = r;
    };
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("data", () => {});
    stream.on("error", (err) => {
      clearTimeout(safety);
      reject(err);
    });
    stream.on("close", () => {
      clearTimeout(safety);
      resolve({ status, message: grpcMessage, reason, elapsedMs: performance.now() - started });
    });
    stream.end(grpcFrame(message));
  });
}
