import type { IncomingMessage, ServerResponse } from "node:http";
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { respellGrpcMessage, withSpecGrpcMessage } from "./grpc-message.js";
import type { StreamHandler } from "./grpc-unary.js";
import type { InFlightCalls } from "./in-flight.js";
import { peerContext } from "./peer.js";

export interface ConnectFallbackOptions {
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: readonly Interceptor[];
  readonly readMaxBytes: number;
  readonly writeMaxBytes: number;
  readonly calls: InFlightCalls;
}

/** connect's router, reachable from an HTTP/2 stream and from an HTTP/1.1 request. */
export interface ConnectFallback {
  readonly stream: StreamHandler;
  readonly request: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Everything but unary binary gRPC goes through connect: Connect and gRPC-Web (HTTP/1.1 and 2),
 * streams (Health.Watch, reflection), compressed gRPC, unknown paths. connect-node's own adapter
 * takes node's compatibility request and response, which node:http2 only creates when the server
 * has a "request" listener — and then for every stream, the fast path's too. So HTTP/2 streams
 * are adapted to connect's UniversalHandler here; HTTP/1.1 keeps connect-node's converters.
 * Every call gets its own AbortController from `calls` (see in-flight.ts).
 */
export function connectFallback(options: ConnectFallbackOptions): ConnectFallback {
  const router = createConnectRouter({
    interceptors: [...options.interceptors],
    readMaxBytes: options.readMaxBytes,
    writeMaxBytes: options.writeMaxBytes,
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  const find = (path: string | undefined) => handlers.get(path?.split("?", 1)[0] ?? "");

  const stream: StreamHandler = (stream, headers) => {
    stream.on("error", () => {});
    const handler = find(headers[":path"]);
    if (handler === undefined) {
      stream.respond({ ":status": 404 }, { endStream: true });
      return;
    }
    const controller = options.calls.begin();
    stream.once("close", () => {
      if (!stream.writableFinished) controller.abort(new ConnectError("call cancelled", Code.Canceled));
    });
    serveStream(stream, headers, handler, controller.signal)
      .catch(() => stream.destroy())
      .finally(() => options.calls.end(controller));
  };

  const request = withSpecGrpcMessage((req: IncomingMessage, res: ServerResponse) => {
    const handler = find(req.url);
    if (handler === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const universal = universalRequestFromNodeRequest(req, res, undefined, peerContext(req.socket));
    const controller = options.calls.begin();
    universal.signal.addEventListener("abort", () => controller.abort(universal.signal.reason), {
      once: true,
    });
    handler({ ...universal, signal: controller.signal })
      .then((response) => universalResponseToNodeResponse(response, res))
      .catch(() => res.destroy())
      .finally(() => options.calls.end(controller));
  });

  return { stream, request };
}

async function serveStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  handler: UniversalHandler,
  signal: AbortSignal,
): Promise<void> {
  const header = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) header.append(key, item);
  }
  const response = await handler({
    httpVersion: "2.0",
    method: headers[":method"] ?? "",
    url: `${headers[":scheme"] ?? "http"}://${headers[":authority"] ?? "localhost"}${headers[":path"] ?? "/"}`,
    header,
    body: stream,
    signal,
    contextValues: peerContext(stream.session?.socket),
  });
  await writeResponse(stream, response);
}

/**
 * Writes connect's response. As connect-node does, the headers go out after the first chunk of
 * the body is made: the implementation may set response headers until then. Trailers are read
 * when node asks for them, after the body, when connect has filled in the status.
 */
async function writeResponse(stream: ServerHttp2Stream, response: UniversalServerResponse): Promise<void> {
  const body = response.body?.[Symbol.asyncIterator]();
  let chunk = await body?.next();
  try {
    if (stream.destroyed) return;
    const trailer = response.trailer;
    stream.respond(
      { ":status": response.status, ...nodeHeaders(response.header) },
      { waitForTrailers: trailer !== undefined },
    );
    if (trailer !== undefined) {
      stream.once("wantTrailers", () => stream.sendTrailers(nodeHeaders(trailer)));
    }
    while (chunk !== undefined && chunk.done !== true) {
      if (!stream.write(chunk.value)) await drained(stream);
      if (stream.destroyed) return;
      chunk = await body?.next();
    }
    stream.end();
  } finally {
    await body?.return?.();
  }
}

function drained(stream: ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.once("drain", done);
    stream.once("close", done);
  });
}

/** Web headers as node:http2 headers, grpc-message spelled the gRPC spec's way. */
function nodeHeaders(headers: Headers | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  headers?.forEach((value, key) => {
    out[key] = key === "grpc-message" ? respellGrpcMessage(value) : value;
  });
  return out;
}
