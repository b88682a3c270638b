/**
 * The gRPC wire details the service's own unary fast path owns (docs/design.md): every grpc-timeout
 * unit, a client cancel reaching the upstream request, the request size limit, a gzip-compressed
 * request from grpc-js (served by connect), and the shutdown grace period ending calls with
 * UNAVAILABLE on both paths. Against a fake Prometheus that is slow or never answers.
 */
import { type ClientHttp2Session, connect as http2Connect, type IncomingHttpHeaders } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetHostMetricRequestSchema, MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { frameMessage } from "../../src/server/grpc-frame.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  type FakePrometheus,
  type SeenQuery,
  startFakePrometheus,
  waitForClose,
} from "../support/interop-fake-prometheus.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";

const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;
const GET_HOST_METRIC = "/metricsaccess.v1.MetricsService/GetHostMetric";

let fake: FakePrometheus;
let service: TestApp;

beforeAll(async () => {
  fake = await startFakePrometheus({ query: { kind: "slow", delayMs: 10_000, value: "1" } });
  service = await startTestApp({
    "prometheus_client.host": fake.host,
    "prometheus_client.port": String(fake.port),
  });
});

afterAll(async () => {
  await service?.stop();
  await fake?.stop();
});

/** One raw HTTP/2 gRPC call with `headers` added; resolves with the status and when it came. */
async function rawCall(
  session: ClientHttp2Session,
  headers: Record<string, string>,
): Promise<{ status: string | undefined; elapsedMs: number }> {
  const started = performance.now();
  const stream = session.request({
    ":method": "POST",
    ":path": GET_HOST_METRIC,
    "content-type": "application/grpc",
    te: "trailers",
    ...headers,
  });
  let status: string | undefined;
  const read = (h: IncomingHttpHeaders) => {
    if (typeof h["grpc-status"] === "string") status = h["grpc-status"];
  };
  stream.on("response", read);
  stream.on("trailers", read);
  stream.resume();
  stream.end(frameMessage(toBinary(GetHostMetricRequestSchema, create(GetHostMetricRequestSchema, CPU))));
  await new Promise((resolve) => stream.once("close", resolve));
  return { status, elapsedMs: performance.now() - started };
}

describe("grpc-timeout", () => {
  it("ends the call with DEADLINE_EXCEEDED in every unit, and aborts the upstream query", async () => {
    const session = http2Connect(service.url);
    try {
      // Each unit with a value a test can wait for (8 digits of nanoseconds are under 100 ms);
      // hours and minutes as zero, expired at once.
      for (const [timeout, ms] of [
        ["300m", 300],
        ["300000u", 300],
        ["99000000n", 99],
      ] as const) {
        const query = fake.nextQuery(5_000);
        const out = await rawCall(session, { "grpc-timeout": timeout });
        expect(out.status, timeout).toBe(String(grpc.status.DEADLINE_EXCEEDED));
        expect(out.elapsedMs, timeout).toBeGreaterThanOrEqual(ms - 10);
        expect(out.elapsedMs, timeout).toBeLessThan(2_000);
        const seen = await query;
        expect((await waitForClose(seen, 2_000)) - seen.receivedAt, timeout).toBeLessThan(1_000);
      }
      const second = await rawCall(session, { "grpc-timeout": "1S" });
      expect(second.status).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      expect(second.elapsedMs).toBeGreaterThanOrEqual(950);
      expect(second.elapsedMs).toBeLessThan(3_000);
      for (const timeout of ["0M", "0H"]) {
        const out = await rawCall(session, { "grpc-timeout": timeout });
        expect(out.status, timeout).toBe(String(grpc.status.DEADLINE_EXCEEDED));
        expect(out.elapsedMs, timeout).toBeLessThan(1_000);
      }
      const malformed = await rawCall(session, { "grpc-timeout": "300 ms" });
      expect(malformed.status).toBe(String(grpc.status.INVALID_ARGUMENT));
    } finally {
      session.close();
    }
  });
});

describe("a caller that cancels", () => {
  it("cancels the upstream query, logged as canceled", async () => {
    const client = grpcClient(`127.0.0.1:${service.app.port}`);
    try {
      const query = fake.nextQuery(5_000);
      const metadata = new grpc.Metadata();
      metadata.set("x-request-id", "wire-cancel");
      const call = client.makeUnaryRequest(
        GET_HOST_METRIC,
        (m: typeof CPU) =>
          Buffer.from(toBinary(GetHostMetricRequestSchema, create(GetHostMetricRequestSchema, m))),
        (b: Buffer) => b,
        CPU,
        metadata,
        () => {},
      );
      const seen: SeenQuery = await query;
      call.cancel();
      expect((await waitForClose(seen, 2_000)) - seen.receivedAt).toBeLessThan(1_000);
      await expect
        .poll(() => service.logs.find((l) => l.requestId === "wire-cancel"))
        .toMatchObject({ code: "canceled", msg: "call refused" });
    } finally {
      closeClient(client);
    }
  });
});

describe("sizes and encodings", () => {
  it("refuses a request over 1 MiB with RESOURCE_EXHAUSTED", async () => {
    const client = grpcClient(`127.0.0.1:${service.app.port}`);
    try {
      const out = await unary(client, MetricsService.method.getHostMetric, {
        host: "x".repeat(2 * 1024 * 1024),
        metric: "host_cpu_usage",
      });
      expect(out.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      closeClient(client);
    }
  });

  it("serves a gzip-compressed request from grpc-js (through connect), errors with their details", async () => {
    const client = new grpc.Client(`127.0.0.1:${service.app.port}`, grpc.credentials.createInsecure(), {
      "grpc.default_compression_algorithm": 2, // gzip
    });
    try {
      const metrics = await unary(client, MetricsService.method.listMetrics, {});
      expect(metrics.code, metrics.details).toBe(grpc.status.OK);
      expect(metrics.response?.metrics.map((m) => m.name)).toContain("host_cpu_usage");
      const refused = await unary(client, MetricsService.method.getHostMetric, {
        host: "",
        metric: "host_cpu_usage",
      });
      expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(refused.details).toBe("host: required");
      expect(refused.trailers.get("grpc-status-details-bin")[0]).toBeInstanceOf(Buffer);
    } finally {
      closeClient(client);
    }
  });
});

describe("many calls at once", () => {
  it("put no listener per call on a shared signal (no MaxListenersExceededWarning)", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const client = grpcClient(`127.0.0.1:${service.app.port}`);
    try {
      const calls = Array.from({ length: 32 }, (_, i) =>
        i % 2 === 0
          ? unary(client, MetricsService.method.getHostMetric, CPU, { timeoutMs: 300 }).then((o) => o.code)
          : fetch(`${service.url}${GET_HOST_METRIC}`, {
              method: "POST",
              headers: { "content-type": "application/json", "connect-timeout-ms": "300" },
              body: JSON.stringify(CPU),
            }).then((r) => (r.status === 504 ? grpc.status.DEADLINE_EXCEEDED : r.status)),
      );
      expect(new Set(await Promise.all(calls))).toEqual(new Set([grpc.status.DEADLINE_EXCEEDED]));
    } finally {
      closeClient(client);
      process.off("warning", onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
  });
});

describe("the end of the shutdown grace period", () => {
  it("ends calls still in flight with UNAVAILABLE, on the fast path and through connect", async () => {
    const hanging = await startFakePrometheus({ query: { kind: "hang" } });
    const app = await startTestApp({
      "prometheus_client.host": hanging.host,
      "prometheus_client.port": String(hanging.port),
      "metrics_access.shutdown_grace_period": "0.3",
    });
    const client = grpcClient(`127.0.0.1:${app.app.port}`);
    try {
      const fast = unary(client, MetricsService.method.getHostMetric, CPU);
      const connect = fetch(`${app.url}${GET_HOST_METRIC}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // Another query than the fast call's: identical upstream queries are shared.
        body: JSON.stringify({ ...CPU, metric: "host_ram_usage" }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code?: string } }));
      await expect.poll(() => hanging.queries.length, { timeout: 5_000 }).toBe(2);
      const started = performance.now();
      await app.stop();
      expect(performance.now() - started).toBeLessThan(2_000);
      const fastOut = await fast;
      expect(fastOut.code, fastOut.details).toBe(grpc.status.UNAVAILABLE);
      expect(fastOut.details).toBe("server shutting down");
      expect(await connect).toEqual({ status: 503, body: expect.objectContaining({ code: "unavailable" }) });
    } finally {
      closeClient(client);
      await app.stop();
      await hanging.stop();
    }
  });
});
