/**
 * The benchmark's tables: Markdown, printed to stdout and written into docs/benchmarks.md (doc.ts).
 * Each table cell is a median over rounds; the ratios are of those medians.
 */
import type { SingleCallResult, SweepResult, ThroughputResult } from "./phases.js";
import { fixed, median } from "./stats.js";

export interface RssResult {
  /** VmHWM right after start-up and warm-up, before the 64-caller phase. */
  readonly idleBytes: number;
  /** VmHWM after the 64-caller phase. */
  readonly peakBytes: number;
  /**
   * The same with V8's young generation capped (`--max-semi-space-size=2`): the flag the image and
   * the deployment examples set in NODE_OPTIONS, so the service as shipped.
   */
  readonly peakBytesSmallYoung: number;
  readonly calls: number;
  /** VmHWM of the long-running services after everything (batches included), by backend. */
  readonly afterSweeps: Readonly<Record<string, number>>;
}

export interface BenchResults {
  readonly single: readonly SingleCallResult[];
  readonly throughput: readonly ThroughputResult[];
  readonly rss: RssResult;
  readonly sweeps: readonly SweepResult[];
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export const MB = 1e6;

/** Median p50 of one client for one workload. */
export function p50Of(results: readonly SingleCallResult[], workload: string, client: string): number {
  return median(results.find((r) => r.workload === workload && r.client === client)?.p50 ?? []);
}

export function singleCallTable(results: readonly SingleCallResult[]): string {
  const rows = results.map((r) => {
    const p50 = median(r.p50);
    return [
      r.workload,
      r.client,
      fixed(p50, 3),
      fixed(median(r.p90), 3),
      fixed(p50 / p50Of(results, r.workload, "undici → Prometheus"), 2),
      fixed(p50 / p50Of(results, r.workload, "requests (Python) → Prometheus"), 2),
    ];
  });
  return markdownTable(
    ["workload", "caller → target", "p50 ms", "p90 ms", "p50 ÷ undici direct", "p50 ÷ requests direct"],
    rows,
  );
}

export function throughputTable(results: readonly ThroughputResult[]): string {
  const rows = results.map((r) => {
    const direct = median(r.directPerSec);
    const service = median(r.servicePerSec);
    const floor = median(r.floorPerSec);
    const forwarding = median(r.forwardFloorPerSec);
    return [
      String(r.concurrency),
      String(r.calls),
      fixed(direct, 0),
      fixed(service, 0),
      fixed(service / direct, 2),
      fixed(floor, 0),
      fixed(floor / direct, 2),
      fixed(forwarding, 0),
      fixed(forwarding / direct, 2),
      fixed(median(r.serviceCpuUsPerCall), 0),
    ];
  });
  return markdownTable(
    [
      "concurrency",
      "calls per run",
      "undici → Prometheus calls/s",
      "grpc-js → service calls/s",
      "service ÷ direct",
      "grpc-js → fixed answer calls/s",
      "fixed answer ÷ direct",
      "grpc-js → forwarding calls/s",
      "forwarding ÷ direct",
      "service CPU µs/call",
    ],
    rows,
  );
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${fixed(ms / 1000, 1)} s` : `${fixed(ms, 0)} ms`;
}

export function sweepTable(results: readonly SweepResult[]): string {
  const rows = results.map((r) => {
    const sequential = median(r.sequentialMs);
    const batch = median(r.batchMs);
    return [
      r.backend,
      `${r.resources} ${r.subject}`,
      `${seconds(sequential)} (${r.sequentialMs.length}×)`,
      `${fixed(batch, 0)} ms (${r.batchMs.length}×)`,
      fixed(batch / sequential, 4),
      r.batchQueries,
      `${r.batchOk} / ${r.resources}`,
    ];
  });
  return markdownTable(
    [
      "through",
      "resources",
      "sequential single calls",
      "one batch call",
      "batch ÷ sequential",
      "batch queries",
      "items with a value",
    ],
    rows,
  );
}

export function memoryTable(rss: RssResult): string {
  const mb = (bytes: number) => `${fixed(bytes / MB, 1)} MB`;
  return markdownTable(
    ["process", "peak RSS (VmHWM)"],
    [
      ["fresh service after start-up and warm-up", mb(rss.idleBytes)],
      [
        `the same after ${rss.calls} calls from 64 concurrent callers, Node's default flags`,
        mb(rss.peakBytes),
      ],
      [
        "the same, node --max-semi-space-size=2 (as the image and deploy/ run it)",
        mb(rss.peakBytesSmallYoung),
      ],
      ...Object.entries(rss.afterSweeps).map(([backend, bytes]) => [
        `service through ${backend} after every phase (batches of 5,000 included)`,
        mb(bytes),
      ]),
    ],
  );
}

/** One target of the issue: the measured ratio or quantity against its bound. */
export interface Target {
  readonly id: string;
  readonly name: string;
  readonly value: number;
  readonly bound: number;
  readonly atMost: boolean;
  readonly unit: string;
}
