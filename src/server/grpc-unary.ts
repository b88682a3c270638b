import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "../log.js";
import { toConnectError } from "./error-status.js";
import { frameMessage, UnaryMessageReader } from "./grpc-frame.js";
import { grpcStatusHeaders } from "./grpc-status.js";
import { MAX_TIMER_MS, parseGrpcTimeout } from "./grpc-timeout.js";
import type { InFlightCalls } from "./in-flight.js";
import { REQUEST_ID_HEADER, requestIdFor, startCallLog } from "./interceptors.js";
import type { RpcCounter } from "./self-metrics.js";
import { UnaryCallContext } from "./unary-context.js";

/** What node:http2 hands a "stream" listener. */
export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/** A unary method the fast path serves: the path it answers on and its implementation over bytes. */
export interface UnaryRoute {
  /** "package.Service/Method", as the access log names it. */
  readonly rpc: string;
  /** A unary method (methodKind "unary"). */
  readonly method: DescMethod;
  invoke(request: Uint8Array, context: HandlerContext): Promise<Uint8Array>;
}

type UnaryFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/**
 * The unary methods of `service` as fast-path routes, calling the same implementation object that
 * is mounted on connect's router. Streaming methods are left to connect.
 */
export function unaryRoutes(service: DescService, impl: object): UnaryRoute[] {
  const routes: UnaryRoute[] = [];
  for (const method of service.methods) {
    const fn: unknown = Reflect.get(impl, method.localName);
    if (method.methodKind !== "unary" || typeof fn !== "function") continue;
    // A connect ServiceImpl of `service`: its method under localName takes the method's input.
    const call = (fn as UnaryFn<DescMessage, DescMessage>).bind(impl);
    routes.push({
      rpc: `${service.typeName}/${method.name}`,
      method,
      async invoke(bytes, context) {
        let input: MessageShape<DescMessage>;
        try {
          input = fromBinary(method.input, bytes);
        } catch (err) {
          throw new ConnectError(
            `parse binary: ${err instanceof Error ? err.message : String(err)}`,
            Code.Internal,
          );
        }
        return toBinary(method.output, create(method.output, await call(input, context)));
      },
    });
  }
  return routes;
}

const GRPC_PROTO = new Set(["application/grpc", "application/grpc+proto"]);

/**
 * The route of a request the fast path can serve: a POST of binary gRPC, uncompressed, to a unary
 * method it knows. Anything else (Connect, gRPC-Web, JSON codec, compressed messages, streams,
 * reflection, unknown paths) is undefined: connect's business.
 */
export function fastRoute(
  routes: ReadonlyMap<string, UnaryRoute>,
  headers: IncomingHttpHeaders,
): UnaryRoute | undefined {
  const path = headers[":path"];
  const route = path === undefined ? undefined : routes.get(path);
  if (route === undefined || headers[":method"] !== "POST") return undefined;
  const contentType = headers["content-type"];
  if (contentType === undefined || !GRPC_PROTO.has(contentType)) return undefined;
  const encoding = headers["grpc-encoding"];
  return encoding === undefined || encoding === "identity" ? route : undefined;
}

export interface GrpcUnaryOptions {
  readonly logger: Logger;
  readonly routes: readonly UnaryRoute[];
  readonly readMaxBytes: number;
  readonly writeMaxBytes: number;
  readonly calls: InFlightCalls;
  /** Counts every call for the self-metrics, as connect's interceptor does. */
  readonly counter?: RpcCounter | undefined;
  /** Serves every stream the fast path does not. */
  readonly fallback: StreamHandler;
}

/**
 * A node:http2 "stream" listener that serves unary binary gRPC calls itself and hands every other
 * stream to `fallback` (connect). It exists for speed: connect costs about 350 µs of CPU a call
 * more (docs/design.md). Errors, request ids and the access log are the ones connect's path uses.
 */
export function grpcUnaryFastPath(options: GrpcUnaryOptions): StreamHandler {
  const routes = new Map(options.routes.map((route) => [`/${route.rpc}`, route]));
  return (stream, headers) => {
    const route = fastRoute(routes, headers);
    if (route === undefined) options.fallback(stream, headers);
    else serveUnary(stream, headers, route, options);
  };
}

function serveUnary(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  route: UnaryRoute,
  options: GrpcUnaryOptions,
): void {
  const offered = headers[REQUEST_ID_HEADER];
  const requestId = requestIdFor(typeof offered === "string" ? offered : undefined);
  const log = startCallLog(options.logger, requestId, route.rpc, options.counter);
  const contentType = headers["content-type"] ?? "application/grpc";
  const controller = options.calls.begin();
  const reader = new UnaryMessageReader(options.readMaxBytes);
  let deadline: NodeJS.Timeout | undefined;
  let settled = false;
  /** The call's access-log line and counters, set when it is answered and written once. */
  let pendingLog: (() => void) | undefined;
  const writeLog = () => {
    pendingLog?.();
    pendingLog = undefined;
  };

  /** Answers once: whatever comes later (a late answer, an abort) is dropped. */
  const settle = (outcome: { ok: Buffer } | { err: unknown }): void => {
    if (settled) return;
    settled = true;
    clearTimeout(deadline);
    options.calls.end(controller);
    if ("ok" in outcome) {
      respond(stream, { "content-type": contentType, [REQUEST_ID_HEADER]: requestId }, outcome.ok);
      pendingLog = () => log.ok();
    } else {
      const status = toConnectError(outcome.err, controller.signal);
      respond(stream, {
        "content-type": contentType,
        ...grpcStatusHeaders(status),
        [REQUEST_ID_HEADER]: requestId,
      });
      pendingLog = () => log.failed(status, outcome.err);
      // The caller may still be sending (a deadline or a refusal mid-upload): read and drop the rest.
      stream.resume();
    }
    if (stream.destroyed) writeLog();
  };

  // Errors of the stream show up as "close"; without a listener they would crash the process.
  stream.on("error", () => {});
  // The access log and the RPC counters are written when the stream has closed, that is once the
  // trailers are out: node:http2 sends them from an immediate of their own (sendTrailers), after
  // the answer's HEADERS and DATA, and the caller's call ends only with them. Written at `settle`,
  // they delayed the trailers by their cost (about 60 µs a call, docs/performance.md).
  stream.once("close", () => {
    if (!settled) controller.abort(new ConnectError("call cancelled", Code.Canceled));
    else writeLog();
  });
  // A call that arrives after the grace period has ended starts aborted.
  if (controller.signal.aborted) {
    settle({ err: controller.signal.reason });
    return;
  }
  // A deadline, a cancel or the end of the shutdown grace period answers at once; the handler, whose
  // signal is this one, stops its upstream request.
  controller.signal.addEventListener("abort", () => settle({ err: controller.signal.reason }), {
    once: true,
  });

  let timeoutMs: number | undefined;
  try {
    timeoutMs = parseGrpcTimeout(headers["grpc-timeout"]);
  } catch (err) {
    settle({ err });
    return;
  }
  const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
    deadline = setTimeout(
      () => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
      timeoutMs,
    );
  }

  const onData = (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (err) {
      stream.off("data", onData);
      settle({ err });
    }
  };
  stream.on("data", onData);
  stream.once("end", () => {
    if (settled) return;
    let request: Uint8Array;
    try {
      request = reader.finish();
    } catch (err) {
      settle({ err });
      return;
    }
    const context = new UnaryCallContext({
      method: route.method,
      url: `/${route.rpc}`,
      signal: controller.signal,
      deadlineAt,
      headers,
      socket: stream.session?.socket,
    });
    route.invoke(request, context).then(
      (response) => {
        if (response.length > options.writeMaxBytes) {
          settle({
            err: new ConnectError(
              `message size ${response.length} is larger than configured writeMaxBytes ${options.writeMaxBytes}`,
              Code.ResourceExhausted,
            ),
          });
        } else {
          settle({ ok: frameMessage(response) });
        }
      },
      (err: unknown) => settle({ err }),
    );
  });
}

/**
 * A response with `message`, grpc-status 0 in the trailers; or, without a message, a trailers-only
 * response whose `headers` carry the status. Nothing is sent on a stream the caller already closed.
 */
function respond(stream: ServerHttp2Stream, headers: OutgoingHttpHeaders, message?: Buffer): void {
  if (stream.closed || stream.destroyed || stream.headersSent) return;
  if (message === undefined) {
    stream.respond({ ":status": 200, ...headers }, { endStream: true });
    return;
  }
  stream.respond({ ":status": 200, ...headers }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(message);
}
