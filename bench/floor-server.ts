/**
 * The floor of any gRPC hop on this machine: an @grpc/grpc-js server (a process of its own, like the
 * service) that answers GetHostMetric and GetInstanceMetric with a fixed, pre-encoded answer — no
 * decoding, no logging, no upstream. What a caller pays to reach it is what no gRPC service can
 * save; the benchmark measures it in the same run to show which targets this machine puts out of
 * reach. With a Prometheus URL and a PromQL query it is the forwarding floor instead: each call also
 * sends that query to Prometheus (undici, the leanest HTTP client Node has) and reads the JSON answer before
 * answering the fixed message — the least any gRPC service in front of Prometheus must do.
 * Usage: tsx bench/floor-server.ts PORT [PROMETHEUS_URL PROMQL] (prints "listening" when ready).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Pool } from "undici";
import {
  GetHostMetricResponseSchema,
  GetInstanceMetricResponseSchema,
  MetricsService,
} from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { grpc } from "../test/support/interop-grpc.js";

const [portArg, prometheusUrl, promql] = process.argv.slice(2);
const port = Number(portArg);
const pool = prometheusUrl === undefined ? undefined : new Pool(prometheusUrl, { connections: 64 });
const queryPath = `/api/v1/query?${new URLSearchParams({ query: promql ?? "" })}`;

/** Nothing, or Prometheus's answer to the one query, read and parsed. */
async function forward(): Promise<void> {
  if (pool === undefined) return;
  const res = await pool.request({ method: "GET", path: queryPath, headers: { accept: "application/json" } });
  await res.body.json();
}
const value = {
  metric: "fixed",
  value: 1,
  unit: "%",
  labelName: "fqdn",
  labelValue: "fixed",
  seriesCount: 1,
};
const hostAnswer = Buffer.from(
  toBinary(GetHostMetricResponseSchema, create(GetHostMetricResponseSchema, { result: value })),
);
const instanceAnswer = Buffer.from(
  toBinary(GetInstanceMetricResponseSchema, create(GetInstanceMetricResponseSchema, { result: value })),
);

const passthrough = {
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
} as const;
const path = (method: { name: string }) => `/${MetricsService.typeName}/${method.name}`;

const server = new grpc.Server();
server.addService(
  {
    getHostMetric: { path: path(MetricsService.method.getHostMetric), ...passthrough },
    getInstanceMetric: { path: path(MetricsService.method.getInstanceMetric), ...passthrough },
  },
  {
    getHostMetric: (_call: unknown, done: grpc.sendUnaryData<Buffer>) => {
      forward().then(
        () => done(null, hostAnswer),
        (err: Error) => done(err),
      );
    },
    getInstanceMetric: (_call: unknown, done: grpc.sendUnaryData<Buffer>) => {
      forward().then(
        () => done(null, instanceAnswer),
        (err: Error) => done(err),
      );
    },
  },
);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write("listening\n");
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
