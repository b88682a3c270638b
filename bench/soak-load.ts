/**
 * The soak's load (bench/soak.ts): `callers` concurrent @grpc/grpc-js callers on one channel, each
 * making one call after the other until the time is up, every call with a deadline. The calls mix
 * GetHostMetric and GetInstanceMetric, each on the next resource of the fleet, with every
 * `batchEvery`-th call a GetHostMetrics over `batchHosts` hosts. Every call's status and latency is
 * kept; an answer without a value (every resource of the fleet has data) counts as unexpected too.
 */
import { ItemStatus, MetricsService } from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { grpc, type UnaryOutcome, unary } from "../test/support/interop-grpc.js";

export const RPCS = ["GetHostMetric", "GetInstanceMetric", "GetHostMetrics"] as const;
export type Rpc = (typeof RPCS)[number];

export interface LoadPlan {
  readonly callers: number;
  readonly durationMs: number;
  readonly deadlineMs: number;
  readonly hosts: readonly string[];
  readonly instances: readonly { readonly instanceId: string; readonly vcpus: number }[];
  readonly batchHosts: number;
  /** Every this many calls, one is a batch. */
  readonly batchEvery: number;
}

export interface RpcRecord {
  /** Milliseconds from each call to its status, whatever the status. */
  readonly latenciesMs: number[];
  /** Calls by gRPC status name (OK, UNAVAILABLE, …). */
  readonly codes: Map<string, number>;
}

export interface LoadResult {
  readonly rpcs: Readonly<Record<Rpc, RpcRecord>>;
  /** From the first call to the last status. */
  readonly elapsedMs: number;
  /** Calls that ended in each second of the load (index = second). */
  readonly completedPerSecond: number[];
  /** Unexpected outcomes by kind: a non-OK status, an OK answer without a value, a batch item not OK. */
  readonly unexpected: Map<string, number>;
  /** The first few unexpected outcomes, described. */
  readonly examples: string[];
}

const MAX_EXAMPLES = 8;

export async function runLoad(client: grpc.Client, plan: LoadPlan): Promise<LoadResult> {
  const fresh = (): RpcRecord => ({ latenciesMs: [], codes: new Map() });
  const rpcs: Record<Rpc, RpcRecord> = {
    GetHostMetric: fresh(),
    GetInstanceMetric: fresh(),
    GetHostMetrics: fresh(),
  };
  const unexpected = new Map<string, number>();
  const examples: string[] = [];
  const completedPerSecond: number[] = [];
  const flag = (kind: string, what: string) => {
    unexpected.set(kind, (unexpected.get(kind) ?? 0) + 1);
    if (examples.length < MAX_EXAMPLES) examples.push(`${kind}: ${what}`);
  };
  const started = performance.now();
  const endAt = started + plan.durationMs;
  const record = (rpc: Rpc, outcome: UnaryOutcome<unknown>, subject: string): boolean => {
    const r = rpcs[rpc];
    r.latenciesMs.push(outcome.elapsedMs);
    const code = grpc.status[outcome.code] ?? String(outcome.code);
    r.codes.set(code, (r.codes.get(code) ?? 0) + 1);
    const second = Math.floor((performance.now() - started) / 1000);
    completedPerSecond[second] = (completedPerSecond[second] ?? 0) + 1;
    if (outcome.code === grpc.status.OK) return true;
    flag(`${code} status`, `${rpc} ${subject}: ${outcome.details} (${outcome.elapsedMs.toFixed(0)} ms)`);
    return false;
  };

  let next = 0;
  let nextHost = 0;
  let nextInstance = 0;
  let nextBatch = 0;
  const at = <T>(items: readonly T[], i: number): T => {
    const item = items[i % items.length];
    if (item === undefined) throw new Error("empty fleet");
    return item;
  };
  const options = () => ({ timeoutMs: plan.deadlineMs });

  const one = async (n: number): Promise<void> => {
    if (n % plan.batchEvery === plan.batchEvery - 1) {
      const first = (nextBatch++ * plan.batchHosts) % plan.hosts.length;
      const hosts = Array.from({ length: plan.batchHosts }, (_, k) => at(plan.hosts, first + k));
      const o = await unary(
        client,
        MetricsService.method.getHostMetrics,
        { hosts, metrics: ["host_cpu_usage"] },
        options(),
      );
      if (!record("GetHostMetrics", o, `${hosts.length} hosts from ${hosts[0]}`)) return;
      const items = o.response?.items ?? [];
      if (items.length !== hosts.length)
        flag("batch answer", `${items.length} items for ${hosts.length} hosts`);
      for (const item of items) {
        if (item.status !== ItemStatus.OK || item.result?.value === undefined)
          flag("batch item not OK", `${item.host}: ${ItemStatus[item.status]} ${item.message}`);
      }
    } else if (n % 2 === 0) {
      const host = at(plan.hosts, nextHost++);
      const o = await unary(
        client,
        MetricsService.method.getHostMetric,
        { host, metric: "host_cpu_usage" },
        options(),
      );
      if (record("GetHostMetric", o, host) && o.response?.result?.value === undefined)
        flag("OK without a value", `GetHostMetric ${host}`);
    } else {
      const { instanceId, vcpus } = at(plan.instances, nextInstance++);
      const o = await unary(
        client,
        MetricsService.method.getInstanceMetric,
        { instanceId, vcpus, metric: "instance_cpu_usage" },
        options(),
      );
      if (record("GetInstanceMetric", o, instanceId) && o.response?.result?.value === undefined)
        flag("OK without a value", `GetInstanceMetric ${instanceId}`);
    }
  };

  await Promise.all(
    Array.from({ length: plan.callers }, async () => {
      while (performance.now() < endAt) await one(next++);
    }),
  );
  const elapsedMs = performance.now() - started;
  for (let s = 0; s < completedPerSecond.length; s++) completedPerSecond[s] ??= 0;
  return { rpcs, elapsedMs, completedPerSecond, unexpected, examples };
}
