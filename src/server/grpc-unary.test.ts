import { once } from "node:events";
import {
  type ClientHttp2Session,
  connect,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
} from "../gen/grpc/health/v1/health_pb.js";
import { createLogger } from "../log.js";
import { frameMessage } from "./grpc-frame.js";
import { fastRoute, grpcUnaryFastPath, unaryRoutes } from "./grpc-unary.js";
import { InFlightCalls } from "./in-flight.js";

/** Health.Check whose behaviour the requested service name picks; it records each call's signal. */
const signals: AbortSignal[] = [];
const impl = {
  async check(req: { service: string }, ctx: HandlerContext) {
    signals.push(ctx.signal);
    if (req.service === "wait") {
      await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    }
    if (req.service === "missing") throw new ConnectError('unknown service "missing"', Code.NotFound);
    return { status: HealthCheckResponse_ServingStatus.SERVING };
  },
  list: () => ({ statuses: {} }),
  async *watch() {},
};
const routes = unaryRoutes(Health, impl);
const CHECK = "/grpc.health.v1.Health/Check";

describe("routing", () => {
  const table = new Map(routes.map((r) => [`/${r.rpc}`, r]));
  const grpc = { ":method": "POST", ":path": CHECK, "content-type": "application/grpc" };
  const route = (headers: IncomingHttpHeaders): string | undefined => fastRoute(table, headers)?.rpc;

  it("takes the unary methods of a service and leaves its streams to connect", () => {
    expect(routes.map((r) => r.rpc)).toEqual(["grpc.health.v1.Health/Check", "grpc.health.v1.Health/List"]);
  });

  it("serves binary gRPC POSTs to a unary method, uncompressed", () => {
    expect(route(grpc)).toBe("grpc.health.v1.Health/Check");
    expect(route({ ...grpc, "content-type": "application/grpc+proto" })).toBeDefined();
    expect(route({ ...grpc, "grpc-encoding": "identity" })).toBeDefined();
  });

  it("leaves everything else to connect", () => {
    for (const headers of [
      { ...grpc, ":path": "/grpc.health.v1.Health/Watch" },
      { ...grpc, ":path": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo" },
      { ...grpc, ":path": "/no.Such/Method" },
      { ...grpc, ":method": "GET" },
      { ...grpc, "content-type": "application/grpc+json" },
      { ...grpc, "content-type": "application/grpc-web+proto" },
      { ...grpc, "content-type": "application/proto" },
      { ...grpc, "content-type": "application/json" },
      { ...grpc, "content-type": "application/grpc; charset=utf-8" },
      { ...grpc, "content-type": undefined },
      { ...grpc, "grpc-encoding": "gzip" },
    ]) {
      expect(route(headers), JSON.stringify(headers)).toBeUndefined();
    }
  });
});

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Http2Server | undefined;
let session: ClientHttp2Session | undefined;
const lines: Record<string, unknown>[] = [];
const fellBack: string[] = [];
/** The server side of each call, and whether it had closed (trailers sent) when its log line came. */
const serverStreams: ServerHttp2Stream[] = [];
const closedAtLog: boolean[] = [];

afterEach(async () => {
  session?.destroy();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
  signals.length = 0;
  lines.length = 0;
  fellBack.length = 0;
  serverStreams.length = 0;
  closedAtLog.length = 0;
});

async function start(limits = { readMaxBytes: 1024, writeMaxBytes: 1024 }): Promise<ClientHttp2Session> {
  const sink = new Writable({
    write(chunk: Buffer, _e, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      closedAtLog.push(serverStreams.at(-1)?.closed === true);
      callback();
    },
  });
  const serving = createServer();
  serving.on("stream", (stream: ServerHttp2Stream) => serverStreams.push(stream));
  serving.on(
    "stream",
    grpcUnaryFastPath({
      logger: createLogger("info", sink),
      routes,
      calls: new InFlightCalls(),
      fallback: (stream, headers) => {
        fellBack.push(String(headers[":path"]));
        stream.respond({ ":status": 404 }, { endStream: true });
      },
      ...limits,
    }),
  );
  serving.listen(0, "127.0.0.1");
  await once(serving, "listening");
  server = serving;
  session = connect(`http://127.0.0.1:${(serving.address() as AddressInfo).port}`);
  return session;
}

/** Sends `pieces` as the request body (one DATA frame each, apart in time) and collects the answer. */
function call(
  client: ClientHttp2Session,
  pieces: Buffer[],
  headers: Record<string, string> = {},
): Promise<Answer> {
  const stream = client.request({
    ":method": "POST",
    ":path": CHECK,
    "content-type": "application/grpc",
    ...headers,
  });
  const answer: Answer = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
  stream.on("response", (h) => Object.assign(answer.headers, h));
  stream.on("trailers", (t) => Object.assign(answer.trailers, t));
  stream.on("data", (c: Buffer) => {
    answer.body = Buffer.concat([answer.body, c]);
  });
  void (async () => {
    for (const piece of pieces) {
      if (stream.destroyed) return;
      stream.write(piece);
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!stream.destroyed) stream.end();
  })();
  return new Promise((resolve) => stream.once("close", () => resolve(answer)));
}

const status = (a: Answer) => a.trailers["grpc-status"] ?? a.headers["grpc-status"];
const check = (service: string) =>
  frameMessage(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));

describe("the fast path on node:http2", () => {
  it("answers a message split across DATA frames, with grpc-status 0 in the trailers", async () => {
    const frame = check("");
    const out = await call(await start(), [frame.subarray(0, 2), frame.subarray(2, 6), frame.subarray(6)], {
      "x-request-id": "unit-1",
    });
    expect(out.headers["x-request-id"]).toBe("unit-1");
    expect(out.trailers["grpc-status"]).toBe("0");
    expect(out.body.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 2]));
    expect(lines).toEqual([
      expect.objectContaining({
        requestId: "unit-1",
        rpc: "grpc.health.v1.Health/Check",
        code: "ok",
        msg: "call",
      }),
    ]);
  });

  it("writes the access-log line once the answer, trailers included, has gone", async () => {
    const client = await start();
    await call(client, [check("")]);
    await call(client, [check("missing")]);
    expect(lines.map((l) => l.code)).toEqual(["ok", "not_found"]);
    expect(closedAtLog).toEqual([true, true]);
  });

  it("answers errors trailers-only, logged as refused", async () => {
    const out = await call(await start(), [check("missing")]);
    expect(out.headers["grpc-status"]).toBe(String(Code.NotFound));
    expect(out.headers["grpc-message"]).toBe('unknown service "missing"');
    expect(out.trailers).toEqual({});
    expect(lines[0]).toMatchObject({ code: "not_found", msg: "call refused" });
  });

  it("refuses two messages, a truncated frame and an oversized one", async () => {
    const client = await start({ readMaxBytes: 64, writeMaxBytes: 1024 });
    expect(status(await call(client, [check(""), check("")]))).toBe(String(Code.Unimplemented));
    expect(status(await call(client, [check("").subarray(0, 4)]))).toBe(String(Code.InvalidArgument));
    expect(status(await call(client, [check("x".repeat(100))]))).toBe(String(Code.ResourceExhausted));
    expect(signals).toEqual([]);
  });

  it("refuses an answer over writeMaxBytes", async () => {
    const out = await call(await start({ readMaxBytes: 1024, writeMaxBytes: 1 }), [check("")]);
    expect(status(out)).toBe(String(Code.ResourceExhausted));
  });

  it("ends a call at its grpc-timeout with DEADLINE_EXCEEDED and aborts the handler", async () => {
    const out = await call(await start(), [check("wait")], { "grpc-timeout": "100m" });
    expect(status(out)).toBe(String(Code.DeadlineExceeded));
    expect(ConnectError.from(signals[0]?.reason).code).toBe(Code.DeadlineExceeded);
    const bad = await call(session as ClientHttp2Session, [check("")], { "grpc-timeout": "soon" });
    expect(status(bad)).toBe(String(Code.InvalidArgument));
  });

  it("leaves no timer armed once a call with a long deadline has been answered", async () => {
    const client = await start();
    await call(client, [check("")]);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    for (let i = 0; i < 5; i++) {
      expect(status(await call(client, [check("")], { "grpc-timeout": "300S" }))).toBe("0");
    }
    expect(timers()).toBe(before);
  });

  it("aborts the handler with CANCELLED when the caller resets the stream", async () => {
    const client = await start();
    const stream = client.request({ ":method": "POST", ":path": CHECK, "content-type": "application/grpc" });
    stream.end(check("wait"));
    await expect.poll(() => signals.length).toBe(1);
    stream.close(8); // RST_STREAM CANCEL
    await expect.poll(() => signals[0]?.aborted).toBe(true);
    expect(ConnectError.from(signals[0]?.reason).code).toBe(Code.Canceled);
    await expect.poll(() => lines[0]?.code).toBe("canceled");
  });

  it("hands every other stream to the fallback", async () => {
    const client = await start();
    await call(client, [check("")], { "grpc-encoding": "gzip" });
    expect(fellBack).toEqual([CHECK]);
  });
});
