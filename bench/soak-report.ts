/**
 * The soak's report (bench/soak.ts): Markdown printed to stdout and written to docs/soak.md, which
 * every run rewrites, so that the numbers in it are always one actual run's.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { MachineFacts } from "./machine.js";
import { MB, markdownTable } from "./report.js";
import { type LoadResult, RPCS } from "./soak-load.js";
import { fixed, percentile } from "./stats.js";

/** One reading of the service (and Prometheus) each second of the load. */
export interface Sample {
  /** Seconds since the load began. */
  readonly t: number;
  readonly rssBytes: number;
  readonly serviceCpuSeconds: number;
  readonly prometheusCpuSeconds: number;
}

export interface SoakRun {
  readonly facts: MachineFacts;
  readonly loads: readonly { readonly phase: string; readonly load: string }[];
  readonly seconds: number;
  readonly callers: number;
  readonly deadlineMs: number;
  readonly batchHosts: number;
  readonly batchEvery: number;
  readonly nodeArgs: readonly string[];
  readonly fleet: {
    readonly hosts: number;
    readonly vms: number;
    readonly pastSec: number;
    readonly futureSec: number;
    readonly stepSec: number;
    readonly readyMs: number;
  };
  readonly load: LoadResult;
  readonly samples: readonly Sample[];
  /** VmRSS once the service answered, before any load. */
  readonly idleRssBytes: number;
  /** VmRSS two seconds after the load ended. */
  readonly afterRssBytes: number;
  /** VmHWM at the end: the peak, between samples included. */
  readonly hwmBytes: number;
  /** CPU seconds over the load: the service, Prometheus, this process (the grpc-js callers). */
  readonly cpu: { readonly service: number; readonly prometheus: number; readonly client: number };
  readonly maxRssMB: number;
  readonly wallMs: number;
}

export interface Verdict {
  readonly unexpected: number;
  readonly rssOk: boolean;
  readonly passed: boolean;
}

/**
 * The service's peak RSS: VmHWM, or a 1 s VmRSS sample when that is higher (the kernel updates the
 * high-water mark lazily, so VmHWM can lag the RSS it last read by a few hundred kB).
 */
export function peakRssBytes(run: SoakRun): number {
  return Math.max(run.hwmBytes, ...run.samples.map((s) => s.rssBytes));
}

export function verdictOf(run: SoakRun): Verdict {
  const unexpected = [...run.load.unexpected.values()].reduce((a, b) => a + b, 0);
  const rssOk = peakRssBytes(run) / MB <= run.maxRssMB;
  return { unexpected, rssOk, passed: unexpected === 0 && rssOk };
}

const int = (n: number) => Math.round(n).toLocaleString("en");
const mb = (bytes: number) => `${fixed(bytes / MB, 1)} MB`;

function totalCalls(load: LoadResult): number {
  return RPCS.reduce((sum, rpc) => sum + load.rpcs[rpc].latenciesMs.length, 0);
}

export function callsTable(run: SoakRun): string {
  const seconds = run.load.elapsedMs / 1000;
  const all = totalCalls(run.load);
  const row = (name: string, latencies: readonly number[], codes: ReadonlyMap<string, number>) => [
    name,
    int(latencies.length),
    `${fixed((100 * latencies.length) / all, 1)} %`,
    fixed(latencies.length / seconds, 0),
    fixed(percentile(latencies, 0.5), 2),
    fixed(percentile(latencies, 0.9), 2),
    fixed(percentile(latencies, 0.99), 2),
    fixed(Math.max(...latencies), 1),
    [...codes].map(([code, n]) => `${code} ${int(n)}`).join(", ") || "–",
  ];
  const rows = RPCS.map((rpc) => row(rpc, run.load.rpcs[rpc].latenciesMs, run.load.rpcs[rpc].codes));
  const allCodes = new Map<string, number>();
  for (const rpc of RPCS)
    for (const [code, n] of run.load.rpcs[rpc].codes) allCodes.set(code, (allCodes.get(code) ?? 0) + n);
  rows.push(
    row(
      "all",
      RPCS.flatMap((rpc) => run.load.rpcs[rpc].latenciesMs),
      allCodes,
    ),
  );
  return markdownTable(
    ["RPC", "calls", "share", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses"],
    rows,
  );
}

export function resourcesTable(run: SoakRun): string {
  const seconds = run.load.elapsedMs / 1000;
  const calls = totalCalls(run.load);
  const half = seconds / 2;
  const maxRss = (from: number, to: number) =>
    Math.max(0, ...run.samples.filter((s) => s.t >= from && s.t < to).map((s) => s.rssBytes));
  return markdownTable(
    ["measure", "value"],
    [
      [
        "service CPU per call (utime + stime ÷ calls of every kind)",
        `${fixed((run.cpu.service * 1e6) / calls, 0)} µs`,
      ],
      ["service CPU over the load", `${fixed(run.cpu.service / seconds, 2)} cores`],
      ["Prometheus CPU over the load", `${fixed(run.cpu.prometheus / seconds, 2)} cores`],
      [
        `the soak's own process (${run.callers} grpc-js callers) CPU over the load`,
        `${fixed(run.cpu.client / seconds, 2)} cores`,
      ],
      ["service RSS (VmRSS) once started, before the load", mb(run.idleRssBytes)],
      ["service RSS, highest 1 s sample, first half of the load", mb(maxRss(0, half))],
      [
        "service RSS, highest 1 s sample, second half of the load",
        mb(maxRss(half, Number.POSITIVE_INFINITY)),
      ],
      ["service RSS 2 s after the load", mb(run.afterRssBytes)],
      ["service peak RSS (VmHWM) at the end", mb(run.hwmBytes)],
    ].map(([k, v]) => [k ?? "", v ?? ""]),
  );
}

/** Calls/s, the highest RSS sample and the service's CPU in each slice of the load. */
export function timelineTable(run: SoakRun): string {
  const seconds = run.load.elapsedMs / 1000;
  const slice = Math.max(10, Math.ceil(seconds / 12));
  const rows: string[][] = [];
  const cpuAt = (t: number) => {
    const before = run.samples.filter((s) => s.t <= t);
    return before[before.length - 1] ?? run.samples[0];
  };
  for (let from = 0; from < seconds - 0.5; from += slice) {
    const to = Math.min(seconds, from + slice);
    const completed = run.load.completedPerSecond.slice(from, Math.ceil(to)).reduce((a, b) => a + b, 0);
    const inSlice = run.samples.filter((s) => s.t >= from && s.t < to);
    const a = cpuAt(from);
    const b = cpuAt(to);
    const dt = a && b ? b.t - a.t : 0;
    rows.push([
      `${fixed(from, 0)}–${fixed(to, 0)} s`,
      fixed(completed / (to - from), 0),
      mb(Math.max(0, ...inSlice.map((s) => s.rssBytes))),
      a && b && dt > 0 ? fixed((b.serviceCpuSeconds - a.serviceCpuSeconds) / dt, 2) : "–",
      a && b && dt > 0 ? fixed((b.prometheusCpuSeconds - a.prometheusCpuSeconds) / dt, 2) : "–",
    ]);
  }
  return markdownTable(
    ["load time", "calls/s", "highest service RSS", "service CPU (cores)", "Prometheus CPU (cores)"],
    rows,
  );
}

export function verdictTable(run: SoakRun): string {
  const v = verdictOf(run);
  const kinds = [...run.load.unexpected].map(([kind, n]) => `${int(n)} ${kind}`).join(", ");
  return markdownTable(
    ["check", "bound", "measured", "met"],
    [
      [
        "unexpected outcomes (non-OK statuses, answers without a value)",
        "0",
        kinds || "0",
        v.unexpected === 0 ? "yes" : "no",
      ],
      [
        `service peak RSS (VmHWM or the highest 1 s VmRSS sample), ${run.seconds} s at ${run.callers} callers`,
        `≤ ${run.maxRssMB} MB`,
        mb(peakRssBytes(run)),
        v.rssOk ? "yes" : "no",
      ],
    ],
  );
}

export function soakMarkdown(run: SoakRun, bound: string, defaultBoundMB: number): string {
  const f = run.facts;
  const v = verdictOf(run);
  const loads = run.loads.map((l) => `${l.phase}: ${l.load}`).join("; ");
  const headroom = run.maxRssMB - peakRssBytes(run) / MB;
  const examples = run.load.examples.length
    ? ["First unexpected outcomes:", "", ...run.load.examples.map((e) => `- ${e}`), ""]
    : [];
  return [
    "# Soak",
    "",
    "`npm run soak` holds metrics-access under steady concurrent load for a bounded time and checks that",
    "every call succeeds and that the service's memory stays under a stated bound. It starts a real",
    "Prometheus (Debian's, backfilled with promtool) with the benchmark's fleet and the service built for",
    `production (\`node ${run.nodeArgs.join(" ")} dist/main.js\`, the flag the image sets in NODE_OPTIONS),`,
    `then ${run.callers} @grpc/grpc-js callers on one channel call it one call after the other for ${run.seconds} s:`,
    "GetHostMetric (host_cpu_usage) and GetInstanceMetric (instance_cpu_usage) in turn, each on the next",
    `host or instance, and every ${run.batchEvery}th call a GetHostMetrics batch over ${run.batchHosts} hosts; every call has a`,
    `${fixed(run.deadlineMs / 1000, 0)} s deadline. It records every call's gRPC status and latency, the service's RSS every second`,
    "(/proc/<pid>/status VmRSS, and VmHWM at the end) and its CPU (utime + stime, /proc/<pid>/stat).",
    "",
    "```sh",
    "npm run soak                                  # 60 s, 64 callers",
    "SOAK_SECONDS=600 SOAK_CALLERS=32 npm run soak # longer, fewer callers",
    "SOAK_MAX_RSS_MB=250 npm run soak              # another memory bound (below: why this one)",
    "```",
    "",
    "It exits 0 when both checks below hold, 1 when one does not (an operator can run it as a check),",
    "2 when the soak itself could not run. It is not part of `npm test`: it takes a real Prometheus and",
    "a minute or more of busy cores, and its numbers depend on the machine. This file is rewritten by every",
    "run; the numbers below are one run's.",
    "",
    "How it relates to [benchmarks.md](benchmarks.md): `npm run bench` compares the service with",
    "Prometheus itself and with gRPC floors, in short interleaved rounds, and measures peak RSS after a",
    "fixed 8,000 calls at 64 callers. The soak compares nothing: it keeps the same 64-caller load (plus",
    "a share of batches) running for a fixed time, so that what only shows over time shows here — an error",
    "under sustained concurrency, a deadline missed, latency tails, memory that keeps growing rather than",
    "levelling off. Its calls/s and CPU per call describe the same kind of load as the benchmark's",
    "64-caller throughput row but do not compare with it run to run: the mix differs (instances and",
    "batches, not host_cpu_usage alone), and both depend on what else the machine's cores were running",
    "(the load average below). The memory figures compare better: the heap's size under 64 callers",
    "depends little on how fast they are served.",
    "",
    "## The run",
    "",
    `- ${f.date}, ${f.cpuModel}, ${f.cores} cores, ${f.memoryGiB} GiB, Linux ${f.kernel}; Node ${f.node}; ${f.prometheus}.`,
    `- Fleet: ${int(run.fleet.hosts)} hosts (2 CPUs each) and ${int(run.fleet.vms)} instances (1, 2, 4 or 8 vCPUs), ${fixed((run.fleet.pastSec + run.fleet.futureSec) / 60, 0)} min of samples`,
    `  every ${run.fleet.stepSec} s, backfilled with promtool; Prometheus ready in ${fixed(run.fleet.readyMs / 1000, 0)} s.`,
    `- Load: ${run.callers} callers for ${run.seconds} s (${fixed(run.load.elapsedMs / 1000, 1)} s from the first call to the last status), no warm-up.`,
    `- Wall time of the whole run: ${fixed(run.wallMs / 60_000, 1)} min.`,
    `- Load average (1, 5, 15 min): ${loads}. The machine's cores are shared with other work, whose load`,
    "  is in these figures and in the numbers below: latencies and calls/s are this machine's at that",
    "  moment, not the service's alone.",
    "",
    "## Checks",
    "",
    verdictTable(run),
    "",
    `Result: **${v.passed ? "passed" : "failed"}**.`,
    "",
    ...examples,
    "## Calls",
    "",
    "Latency from the call to its status, as grpc-js sees it, in milliseconds; calls/s over the whole load.",
    "",
    callsTable(run),
    "",
    "## The service's resources",
    "",
    resourcesTable(run),
    "",
    "## Over time",
    "",
    timelineTable(run),
    "",
    "## The memory bound",
    "",
    bound,
    "",
    `This run: peak ${mb(peakRssBytes(run))} against ${run.maxRssMB} MB${run.maxRssMB === defaultBoundMB ? "" : " (set by SOAK_MAX_RSS_MB)"}, ${fixed(Math.abs(headroom), 1)} MB ${headroom >= 0 ? "under" : "over"} it.`,
    "",
  ].join("\n");
}

export async function writeSoakDoc(markdown: string): Promise<string> {
  const path = fileURLToPath(new URL("../docs/soak.md", import.meta.url));
  await writeFile(path, markdown);
  return path;
}
