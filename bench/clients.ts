/**
 * The Node callers the benchmark compares, all asking for the same resources in the same order:
 * undici straight to Prometheus with the service's own PromQL (the floor), @grpc/grpc-js, connect's
 * gRPC transport and Connect JSON over HTTP/1.1 through the service. Plus the two ways of timing
 * them: per-call latencies in sequence, and throughput at a given concurrency.
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Pool } from "undici";
import { MetricsService } from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { closeClient, grpc, grpcClient, type UnaryOutcome, unary } from "../test/support/interop-grpc.js";

/** One host or instance of a workload and the PromQL the service ran for it (byte for byte). */
export interface HostItem {
  readonly host: string;
  readonly promql: string;
}
export interface InstanceItem {
  readonly instanceId: string;
  readonly vcpus: number;
  readonly promql: string;
}

/** One call for item number `i` of a workload (wrapping around). */
export type Call = (i: number) => Promise<void>;

export interface Workload {
  readonly name: string;
  readonly metric: string;
  readonly size: number;
  readonly direct: Call;
  readonly grpcJs: Call;
  readonly connectGrpc: Call;
  readonly connectJson: Call;
  /** grpc-js to the fixed-answer server: the gRPC hop alone (bench/floor-server.ts). */
  readonly grpcFloor: Call;
  /** grpc-js to the forwarding floor: the hop plus one Prometheus query, nothing else. */
  readonly grpcForwardFloor: Call;
}

export interface Callers {
  readonly grpcJs: grpc.Client;
  readonly connectGrpc: Client<typeof MetricsService>;
  readonly connectJson: Client<typeof MetricsService>;
  readonly direct: Pool;
  readonly floor: grpc.Client;
  readonly forwardFloor: grpc.Client;
  close(): Promise<void>;
}

export function openCallers(
  serviceBaseUrl: string,
  prometheusUrl: string,
  floors: { readonly fixed: string; readonly forwarding: string },
): Callers {
  const grpcJs = grpcClient(serviceBaseUrl.replace(/^http:\/\//, ""));
  const floor = grpcClient(floors.fixed);
  const forwardFloor = grpcClient(floors.forwarding);
  // 64 connections: the floor must not queue behind a smaller pool at concurrency 64.
  const direct = new Pool(prometheusUrl, { connections: 64 });
  return {
    grpcJs,
    connectGrpc: createClient(MetricsService, createGrpcTransport({ baseUrl: serviceBaseUrl })),
    connectJson: createClient(
      MetricsService,
      createConnectTransport({ baseUrl: serviceBaseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    ),
    direct,
    floor,
    forwardFloor,
    async close() {
      closeClient(grpcJs);
      closeClient(floor);
      closeClient(forwardFloor);
      await direct.close();
    },
  };
}

/** GET /api/v1/query as Watcher sends it (no time=), with the JSON parsed like any client would. */
export async function directQuery(pool: Pool, promql: string): Promise<number | undefined> {
  const res = await pool.request({
    method: "GET",
    path: `/api/v1/query?${new URLSearchParams({ query: promql })}`,
    headers: { accept: "application/json" },
  });
  const body = (await res.body.json()) as {
    status: string;
    data?: { result?: { value: [number, string] }[] };
  };
  if (res.statusCode !== 200 || body.status !== "success")
    throw new Error(`Prometheus answered ${res.statusCode}`);
  const value = body.data?.result?.[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

const at = <T>(items: readonly T[], i: number): T => {
  const item = items[i % items.length];
  if (item === undefined) throw new Error("empty workload");
  return item;
};

/** grpc-js's outcome never rejects: a failed call must not pass for a fast one. */
async function ok(outcome: Promise<UnaryOutcome<unknown>>): Promise<void> {
  const o = await outcome;
  if (o.code !== grpc.status.OK) throw new Error(`grpc-js: status ${o.code} ${o.details}`);
}

export function hostWorkload(callers: Callers, items: readonly HostItem[]): Workload {
  const req = (i: number) => ({ host: at(items, i).host, metric: "host_cpu_usage" });
  return {
    name: "host_cpu_usage",
    metric: "host_cpu_usage",
    size: items.length,
    direct: async (i) => {
      await directQuery(callers.direct, at(items, i).promql);
    },
    grpcJs: (i) => ok(unary(callers.grpcJs, MetricsService.method.getHostMetric, req(i))),
    connectGrpc: async (i) => {
      await callers.connectGrpc.getHostMetric(req(i));
    },
    connectJson: async (i) => {
      await callers.connectJson.getHostMetric(req(i));
    },
    grpcFloor: (i) => ok(unary(callers.floor, MetricsService.method.getHostMetric, req(i))),
    grpcForwardFloor: (i) => ok(unary(callers.forwardFloor, MetricsService.method.getHostMetric, req(i))),
  };
}

export function instanceWorkload(callers: Callers, items: readonly InstanceItem[]): Workload {
  const req = (i: number) => {
    const item = at(items, i);
    return { instanceId: item.instanceId, vcpus: item.vcpus, metric: "instance_cpu_usage" };
  };
  return {
    name: "instance_cpu_usage",
    metric: "instance_cpu_usage",
    size: items.length,
    direct: async (i) => {
      await directQuery(callers.direct, at(items, i).promql);
    },
    grpcJs: (i) => ok(unary(callers.grpcJs, MetricsService.method.getInstanceMetric, req(i))),
    connectGrpc: async (i) => {
      await callers.connectGrpc.getInstanceMetric(req(i));
    },
    connectJson: async (i) => {
      await callers.connectJson.getInstanceMetric(req(i));
    },
    grpcFloor: (i) => ok(unary(callers.floor, MetricsService.method.getInstanceMetric, req(i))),
    grpcForwardFloor: (i) => ok(unary(callers.forwardFloor, MetricsService.method.getInstanceMetric, req(i))),
  };
}

/** Milliseconds of each of `calls` calls made one after the other, starting at item `offset`. */
export async function sequentialLatencies(call: Call, calls: number, offset = 0): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await call(offset + i);
    out.push(performance.now() - started);
  }
  return out;
}

/** Calls per second for `calls` calls, `concurrency` in flight at any time. */
export async function throughput(
  call: Call,
  calls: number,
  concurrency: number,
  offset = 0,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < calls; i = next++) await call(offset + i);
    }),
  );
  return calls / ((performance.now() - started) / 1000);
}
