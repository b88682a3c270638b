/**
 * docs/benchmarks.md: the run's facts, tables and targets, rewritten by every `npm run bench`, so
 * that the numbers in the document are always those of one actual run.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { MachineFacts } from "./machine.js";
import {
  type BenchResults,
  MB,
  markdownTable,
  memoryTable,
  p50Of,
  singleCallTable,
  sweepTable,
  type Target,
  throughputTable,
} from "./report.js";
import { fixed, median } from "./stats.js";
import { explanation, READING } from "./targets-text.js";

export interface RunFacts {
  readonly facts: MachineFacts;
  readonly loads: readonly { readonly phase: string; readonly load: string }[];
  readonly rounds: number;
  readonly calls: number;
  readonly fleet: {
    readonly hosts: number;
    readonly vms: number;
    readonly backfillMs: number;
    readonly pastSec: number;
    readonly futureSec: number;
    readonly stepSec: number;
  };
  readonly aetosVersion: string;
  readonly aetosWorkers: number;
  readonly wallMs: number;
  /** The 10,000-host section (large-fleet.ts), Markdown. */
  readonly largeFleet: string;
}

export function evaluateTargets(r: BenchResults): Target[] {
  const ratio = (workload: string, client: string, floor: string) =>
    p50Of(r.single, workload, client) / p50Of(r.single, workload, floor);
  const at = (c: number) => r.throughput.find((t) => t.concurrency === c);
  const t64 = at(64);
  const sweep = (backend: string) => r.sweeps.find((s) => s.backend === backend && s.subject === "hosts");
  const batchRatio = (backend: string) => {
    const s = sweep(backend);
    return s ? median(s.batchMs) / median(s.sequentialMs) : Number.NaN;
  };
  const targets: Target[] = [];
  for (const w of ["host_cpu_usage", "instance_cpu_usage"]) {
    targets.push({
      id: "python",
      name: `grpcio → service ÷ requests → Prometheus, ${w} (sequential p50)`,
      value: ratio(w, "grpcio (Python) → service", "requests (Python) → Prometheus"),
      bound: 1,
      atMost: true,
      unit: "×",
    });
  }
  for (const w of ["host_cpu_usage", "instance_cpu_usage"]) {
    targets.push({
      id: "grpcjs",
      name: `@grpc/grpc-js → service ÷ undici → Prometheus, ${w} (sequential p50)`,
      value: ratio(w, "@grpc/grpc-js → service", "undici → Prometheus"),
      bound: 2,
      atMost: true,
      unit: "×",
    });
  }
  targets.push(
    {
      id: "throughput",
      name: "throughput at 64 concurrent callers, service ÷ direct",
      value: t64 ? median(t64.servicePerSec) / median(t64.directPerSec) : Number.NaN,
      bound: 0.5,
      atMost: false,
      unit: "×",
    },
    {
      id: "cpu",
      name: "service CPU per call at 16 concurrent callers",
      value: median(at(16)?.serviceCpuUsPerCall ?? []),
      bound: 500,
      atMost: true,
      unit: "µs",
    },
    {
      id: "rss",
      name: "service peak RSS at 64 concurrent callers, as shipped (NODE_OPTIONS=--max-semi-space-size=2)",
      value: r.rss.peakBytesSmallYoung / MB,
      bound: 150,
      atMost: true,
      unit: "MB",
    },
    {
      id: "batch",
      name: "1,000-host batch ÷ 1,000 sequential single calls, straight to Prometheus",
      value: batchRatio("Prometheus"),
      bound: 0.05,
      atMost: true,
      unit: "×",
    },
    {
      id: "batch",
      name: "1,000-host batch ÷ 1,000 sequential single calls, through Aetos",
      value: batchRatio("Aetos"),
      bound: 0.05,
      atMost: true,
      unit: "×",
    },
  );
  return targets;
}

export function met(t: Target): boolean {
  return t.atMost ? t.value <= t.bound : t.value >= t.bound;
}

function show(value: number, unit: string): string {
  const digits = unit === "×" ? (value < 0.1 ? 4 : 2) : unit === "MB" ? 1 : 0;
  return unit === "×" ? `${fixed(value, digits)} ×` : `${fixed(value, digits)} ${unit}`;
}

function gap(t: Target): string {
  if (met(t)) return "–";
  const off = t.atMost ? t.value / t.bound - 1 : 1 - t.value / t.bound;
  return `${fixed(off * 100, 0)} % ${t.atMost ? "over" : "short"}`;
}

export function targetsTable(targets: readonly Target[]): string {
  return markdownTable(
    ["target", "bound", "measured", "met", "gap"],
    targets.map((t) => [
      t.name,
      `${t.atMost ? "≤" : "≥"} ${show(t.bound, t.unit)}`,
      show(t.value, t.unit),
      met(t) ? "yes" : "no",
      gap(t),
    ]),
  );
}

export async function writeBenchmarksDoc(
  results: BenchResults,
  run: RunFacts,
): Promise<{ path: string; targetsTable: string }> {
  const targets = evaluateTargets(results);
  const table = targetsTable(targets);
  const f = run.facts;
  const loads = run.loads.map((l) => `${l.phase}: ${l.load}`).join("; ");
  const notes = [...new Set(targets.map((t) => t.id))]
    .map((id) =>
      explanation(
        id,
        targets.filter((t) => t.id === id),
        results,
        met,
      ),
    )
    .filter((text) => text !== "");
  const doc = [
    "# Benchmarks",
    "",
    "`npm run bench` measures metrics-access against Prometheus itself, on a large backfilled fleet,",
    "with every component a real process on 127.0.0.1: Debian's Prometheus, the service built for",
    "production (`node dist/main.js`, configured through the environment), Keystone and the genuine Aetos,",
    "Python grpcio and requests. Comparisons are interleaved in rounds (the order rotating each",
    "round) and reported as medians. This file is rewritten by every run; the numbers below are one",
    "run's. Performance is only measured here, never asserted by a test.",
    "",
    "```sh",
    "npm ci && npm run bench     # BENCH_ROUNDS (5) and BENCH_CALLS (300) change the single-call rounds",
    "```",
    "",
    "## The run",
    "",
    `- ${f.date}, ${f.cpuModel}, ${f.cores} cores, ${f.memoryGiB} GiB, Linux ${f.kernel}; Node ${f.node};`,
    `  ${f.prometheus}; Aetos ${run.aetosVersion} under uWSGI (${run.aetosWorkers} workers); Python grpcio ${f.grpcio}, requests ${f.requests}.`,
    `- Fleet: ${run.fleet.hosts.toLocaleString("en")} hosts (2 CPUs each) and ${run.fleet.vms.toLocaleString("en")} instances (1, 2, 4 or 8 vCPUs), ${fixed((run.fleet.pastSec + run.fleet.futureSec) / 60, 0)} min of`,
    `  samples every ${run.fleet.stepSec} s, backfilled with promtool; Prometheus ready in ${fixed(run.fleet.backfillMs / 1000, 0)} s.`,
    `- Single calls: ${run.rounds} rounds × ${run.calls} calls per caller, each call a different host or instance.`,
    `- Wall time of the whole run: ${fixed(run.wallMs / 60_000, 1)} min.`,
    `- Load average (1, 5, 15 min) at each phase: ${loads}.`,
    "",
    "## Targets",
    "",
    table,
    "",
    ...notes.flatMap((n) => [n, ""]),
    "## Single calls, sequential",
    "",
    "p50 and p90 of each round, median over rounds, in milliseconds. Straight to Prometheus, the",
    "callers send the very PromQL the service ran for the same resource (taken from its answers).",
    "",
    singleCallTable(results.single),
    "",
    "## Throughput",
    "",
    "host_cpu_usage, 3 rounds per concurrency, each caller taking the next host; the service's CPU is",
    "its process's utime + stime (/proc/<pid>/stat) over the run divided by the calls.",
    "",
    throughputTable(results.throughput),
    "",
    "## Whole-fleet sweeps: sequential single calls against one batch call",
    "",
    "@grpc/grpc-js through the service, `host_cpu_usage` and `instance_cpu_usage`; the batch lists every",
    "resource (GetHostMetrics `hosts`, GetInstanceMetrics `instances`). Sequential sweeps of 5,000",
    "instances, and every sweep through Aetos, run once (they take the longest); batches are repeated.",
    "",
    sweepTable(results.sweeps),
    "",
    "## Memory",
    "",
    memoryTable(results.rss),
    "",
    run.largeFleet,
    READING,
    "",
  ].join("\n");
  const path = fileURLToPath(new URL("../docs/benchmarks.md", import.meta.url));
  await writeFile(path, doc);
  return { path, targetsTable: table };
}
