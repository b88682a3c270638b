/**
 * The benchmark's measurements. Every comparison runs its sides interleaved within each round (the
 * order rotating from round to round), so that a drift in the machine's load hits all sides alike;
 * the report takes medians over rounds.
 */
import { MetricsService } from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { grpc, unary } from "../test/support/interop-grpc.js";
import { type Call, type Callers, sequentialLatencies, throughput, type Workload } from "./clients.js";
import type { PythonCallers } from "./python.js";
import type { BenchService } from "./service.js";
import { percentile } from "./stats.js";

/** One client's per-round p50/p90 (ms) for one workload. */
export interface SingleCallResult {
  readonly workload: string;
  readonly client: string;
  readonly p50: number[];
  readonly p90: number[];
}

export const SINGLE_CLIENTS = [
  "undici → Prometheus",
  "requests (Python) → Prometheus",
  "@grpc/grpc-js → service",
  "connect gRPC → service",
  "Connect JSON/1.1 → service",
  "grpcio (Python) → service",
  "@grpc/grpc-js → fixed-answer gRPC server",
  "@grpc/grpc-js → forwarding gRPC server",
  "grpcio (Python) → forwarding gRPC server",
] as const;
export type SingleClient = (typeof SINGLE_CLIENTS)[number];

export async function singleCalls(
  workload: Workload,
  kind: "hosts" | "instances",
  python: PythonCallers,
  forwardingTarget: string,
  rounds: number,
  calls: number,
): Promise<SingleCallResult[]> {
  const measures: Record<SingleClient, (offset: number) => Promise<number[]>> = {
    "undici → Prometheus": (o) => sequentialLatencies(workload.direct, calls, o),
    "requests (Python) → Prometheus": (o) => python.requests(kind, calls, o),
    "@grpc/grpc-js → service": (o) => sequentialLatencies(workload.grpcJs, calls, o),
    "connect gRPC → service": (o) => sequentialLatencies(workload.connectGrpc, calls, o),
    "Connect JSON/1.1 → service": (o) => sequentialLatencies(workload.connectJson, calls, o),
    "grpcio (Python) → service": (o) => python.grpcio(kind, calls, o),
    "@grpc/grpc-js → fixed-answer gRPC server": (o) => sequentialLatencies(workload.grpcFloor, calls, o),
    "@grpc/grpc-js → forwarding gRPC server": (o) => sequentialLatencies(workload.grpcForwardFloor, calls, o),
    "grpcio (Python) → forwarding gRPC server": (o) => python.grpcio(kind, calls, o, forwardingTarget),
  };
  // The Node clients' first calls open connections and warm the JIT; the Python loops warm up themselves.
  for (const call of [
    workload.direct,
    workload.grpcJs,
    workload.connectGrpc,
    workload.connectJson,
    workload.grpcFloor,
    workload.grpcForwardFloor,
  ]) {
    await sequentialLatencies(call, 50, workload.size - 50);
  }
  const results = SINGLE_CLIENTS.map((client) => ({ workload: workload.name, client, p50: [], p90: [] }));
  for (let round = 0; round < rounds; round++) {
    const offset = round * calls;
    for (let k = 0; k < SINGLE_CLIENTS.length; k++) {
      const index = (k + round) % SINGLE_CLIENTS.length;
      const client = SINGLE_CLIENTS[index];
      const result = results[index] as { p50: number[]; p90: number[] } | undefined;
      if (client === undefined || result === undefined) continue;
      const latencies = await measures[client](offset);
      result.p50.push(percentile(latencies, 0.5));
      result.p90.push(percentile(latencies, 0.9));
    }
  }
  return results;
}

/** Throughput straight to Prometheus and through the service at one concurrency, per round. */
export interface ThroughputResult {
  readonly concurrency: number;
  readonly calls: number;
  readonly directPerSec: number[];
  readonly servicePerSec: number[];
  /** grpc-js to the fixed-answer server: what no gRPC hop on this machine can exceed. */
  readonly floorPerSec: number[];
  /** grpc-js to the forwarding floor: the most any service in front of Prometheus can reach here. */
  readonly forwardFloorPerSec: number[];
  /** The service's CPU time per call (µs) in each through-the-service measurement. */
  readonly serviceCpuUsPerCall: number[];
}

export async function throughputAt(
  direct: Call,
  viaService: Call,
  floor: Call,
  forwardFloor: Call,
  service: BenchService,
  concurrency: number,
  calls: number,
  rounds: number,
): Promise<ThroughputResult> {
  const result: ThroughputResult = {
    concurrency,
    calls,
    directPerSec: [],
    servicePerSec: [],
    floorPerSec: [],
    forwardFloorPerSec: [],
    serviceCpuUsPerCall: [],
  };
  const measureService = async (offset: number) => {
    const cpuBefore = service.cpuSeconds();
    result.servicePerSec.push(await throughput(viaService, calls, concurrency, offset));
    result.serviceCpuUsPerCall.push(((service.cpuSeconds() - cpuBefore) * 1e6) / calls);
  };
  const measureDirect = async (offset: number) => {
    result.directPerSec.push(await throughput(direct, calls, concurrency, offset));
  };
  const measureFloor = async (offset: number) => {
    result.floorPerSec.push(await throughput(floor, calls, concurrency, offset));
  };
  const measureForwardFloor = async (offset: number) => {
    result.forwardFloorPerSec.push(await throughput(forwardFloor, calls, concurrency, offset));
  };
  const order = [measureDirect, measureService, measureFloor, measureForwardFloor];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < order.length; k++) await order[(k + round) % order.length]?.(round * calls);
  }
  return result;
}

/** A whole-fleet sweep: every resource as sequential single calls, and as one batch call. */
export interface SweepResult {
  readonly backend: string;
  readonly subject: "hosts" | "instances";
  readonly resources: number;
  readonly sequentialMs: number[];
  readonly batchMs: number[];
  /** Items of the last batch with a value. */
  readonly batchOk: number;
  /** The last batch's queries: how many, and their forms. */
  readonly batchQueries: string;
}

export interface SweepPlan {
  readonly backend: string;
  readonly rounds: number;
  readonly batchesPerRound: number;
}

const FORM_NAMES = ["unspecified", "alternation", "alternation chunk", "unfiltered"];

function describeQueries(queries: readonly { form: number }[]): string {
  const counts = new Map<string, number>();
  for (const q of queries) {
    const name = FORM_NAMES[q.form] ?? String(q.form);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([form, n]) => `${n} ${form}`).join(", ");
}

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await work();
  return [performance.now() - started, value];
}

export async function hostSweep(
  callers: Callers,
  hosts: readonly string[],
  plan: SweepPlan,
): Promise<SweepResult> {
  const single = async () => {
    for (const host of hosts) {
      const o = await unary(callers.grpcJs, MetricsService.method.getHostMetric, {
        host,
        metric: "host_cpu_usage",
      });
      if (o.code !== grpc.status.OK) throw new Error(`GetHostMetric ${host}: ${o.code} ${o.details}`);
    }
  };
  const batch = async () => {
    const o = await unary(callers.grpcJs, MetricsService.method.getHostMetrics, {
      hosts: [...hosts],
      metrics: ["host_cpu_usage"],
    });
    if (o.code !== grpc.status.OK || !o.response) throw new Error(`GetHostMetrics: ${o.code} ${o.details}`);
    return o.response;
  };
  return await sweep(plan, "hosts", hosts.length, single, batch);
}

export async function instanceSweep(
  callers: Callers,
  instances: readonly { readonly instanceId: string; readonly vcpus: number }[],
  plan: SweepPlan,
): Promise<SweepResult> {
  const single = async () => {
    for (const { instanceId, vcpus } of instances) {
      const o = await unary(callers.grpcJs, MetricsService.method.getInstanceMetric, {
        instanceId,
        vcpus,
        metric: "instance_cpu_usage",
      });
      if (o.code !== grpc.status.OK)
        throw new Error(`GetInstanceMetric ${instanceId}: ${o.code} ${o.details}`);
    }
  };
  const batch = async () => {
    const o = await unary(callers.grpcJs, MetricsService.method.getInstanceMetrics, {
      instances: instances.map((i) => ({ ...i })),
      metrics: ["instance_cpu_usage"],
    });
    if (o.code !== grpc.status.OK || !o.response)
      throw new Error(`GetInstanceMetrics: ${o.code} ${o.details}`);
    return o.response;
  };
  return await sweep(plan, "instances", instances.length, single, batch);
}

async function sweep(
  plan: SweepPlan,
  subject: "hosts" | "instances",
  resources: number,
  single: () => Promise<void>,
  batch: () => Promise<{
    items: readonly { result?: { value?: number | undefined } | undefined }[];
    queries: readonly { form: number }[];
  }>,
): Promise<SweepResult> {
  const sequentialMs: number[] = [];
  const batchMs: number[] = [];
  let batchOk = 0;
  let batchQueries = "";
  // One untimed batch first: its first run pays for lazily built state (catalogue look-ups, JIT).
  await batch();
  for (let round = 0; round < plan.rounds; round++) {
    sequentialMs.push((await timed(single))[0]);
    for (let b = 0; b < plan.batchesPerRound; b++) {
      const [ms, response] = await timed(batch);
      batchMs.push(ms);
      batchOk = response.items.filter((i) => i.result?.value !== undefined).length;
      batchQueries = `${response.queries.length} (${describeQueries(response.queries)})`;
    }
  }
  return { backend: plan.backend, subject, resources, sequentialMs, batchMs, batchOk, batchQueries };
}
