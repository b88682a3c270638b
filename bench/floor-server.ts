/**
 * The floor of any gRPC hop on this machine: an @grpc/grpc-js server (a process of its own, like the
 * service) that answers GetHostMetric and GetInstanceMetric with a fixed, pre-encoded answer — no
 * decoding, no logging, no upstream. What a caller pays to reach it is what no gRPC service can
 * save; the benchmark measures it in the same run to show which targets this machine puts out of
 * reach. Usage: tsx bench/floor-server.ts PORT (prints "listening" when ready).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  GetHostMetricResponseSchema,
  GetInstanceMetricResponseSchema,
  MetricsService,
} from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { grpc } from "../test/support/interop-grpc.js";

const port = Number(process.argv[2]);
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
    getHostMetric: (_call: unknown, done: grpc.sendUnaryData<Buffer>) => done(null, hostAnswer),
    getInstanceMetric: (_call: unknown, done: grpc.sendUnaryData<Buffer>) => done(null, instanceAnswer),
  },
);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write("listening\n");
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
