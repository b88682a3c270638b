import { rm } from "node:fs/promises";
/**
 * Proves the sample-fleet fixture against a real Prometheus 2.42: for the exact PromQL Watcher
 * sends, what Prometheus answers is what expectedSamples() predicts, bit for bit, and it is the
 * nominal value the fleet was designed for. Starts its own Prometheus (no global setup needed).
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetWindow, ODD_HOST, SAMPLE_FLEET } from "../support/fleet.js";
import {
  type ExpectedSample,
  expectedSamples,
  expectedValue,
  nominalValue,
} from "../support/fleet-expected.js";
import { renderOpenMetrics } from "../support/fleet-openmetrics.js";
import { type FleetQuery, type PromAggregate, watcherPromQL } from "../support/fleet-promql.js";
import { waitUntil } from "../support/processes.js";
import { activeTargetHosts, type RunningPrometheus, startPrometheus } from "../support/prometheus.js";

const RUN_DIR = fileURLToPath(new URL("../../.run/fleet-prometheus", import.meta.url));
const AGGREGATES: readonly PromAggregate[] = ["avg", "max", "min"];
const PERIODS = [300, 600] as const;
const fleet = SAMPLE_FLEET;

let prom: RunningPrometheus;

beforeAll(async () => {
  // A route prefix exercises the catalog-URL-with-a-path case at the same time.
  prom = await startPrometheus({ baseDir: RUN_DIR, routePrefix: "prometheus" });
});

afterAll(async () => {
  await prom?.stop();
  await rm(RUN_DIR, { recursive: true, force: true });
});

interface PromVectorElement {
  metric: Record<string, string>;
  value: [number, string];
}

/** Prometheus writes non-finite floats as NaN, +Inf and -Inf. */
function parsePromFloat(s: string): number {
  if (s === "+Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(s);
}

async function instantQuery(query: string, timeSec?: number): Promise<PromVectorElement[]> {
  const params = new URLSearchParams({ query });
  if (timeSec !== undefined) params.set("time", timeSec.toFixed(3));
  const res = await fetch(`${prom.url}/api/v1/query?${params}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { resultType: string; result: unknown };
  };
  if (body.status !== "success") throw new Error(`${query}: ${body.error}`);
  expect(body.data.resultType).toBe("vector");
  return body.data.result as PromVectorElement[];
}

/** Runs `query` (at `timeSec` or now) and returns Prometheus's answer next to the prediction. */
async function compare(query: FleetQuery, timeSec?: number) {
  const promql = watcherPromQL(fleet, query);
  const result = await instantQuery(promql, timeSec);
  expect(result.length, `no result for ${promql}`).toBeGreaterThan(0);
  // The evaluation time Prometheus used, in seconds with millisecond precision.
  const evalTimeSec = result[0]?.value[0] ?? Number.NaN;
  const actual: ExpectedSample[] = result.map((r) => ({
    labels: r.metric,
    value: parsePromFloat(r.value[1]),
  }));
  return { promql, evalTimeSec, actual, expected: expectedSamples(fleet, prom.window, query, evalTimeSec) };
}

function allQueries(): FleetQuery[] {
  const out: FleetQuery[] = [];
  for (const aggregate of AGGREGATES) {
    for (const periodSec of PERIODS) {
      for (const h of fleet.hosts) {
        out.push({ metric: "host_cpu_usage", host: h.fqdn, aggregate, periodSec });
        out.push({ metric: "host_ram_usage", host: h.fqdn, aggregate, periodSec });
      }
      for (const vm of fleet.vms) {
        out.push({ metric: "instance_cpu_usage", uuid: vm.uuid, aggregate, periodSec, vcpus: vm.vcpus });
        out.push({ metric: "instance_ram_usage", uuid: vm.uuid, aggregate, periodSec });
      }
      // vm-c unclamped: 1.5 cores on 2 vCPUs.
      out.push({ metric: "instance_cpu_usage", uuid: vmUuid("vm-c"), aggregate, periodSec, vcpus: 2 });
    }
  }
  return out;
}

function vmUuid(name: string): string {
  const vm = fleet.vms.find((v) => v.name === name);
  if (!vm) throw new Error(`no VM ${name}`);
  return vm.uuid;
}

function describeQuery(q: FleetQuery): string {
  const subject = "host" in q ? q.host : q.uuid.slice(0, 8);
  const vcpus = q.metric === "instance_cpu_usage" ? ` vcpus=${q.vcpus}` : "";
  return `${q.metric} ${subject} ${q.aggregate} ${q.periodSec}s${vcpus}`;
}

function closeTo(actual: number, nominal: number): boolean {
  if (Number.isNaN(nominal)) return Number.isNaN(actual);
  return Math.abs(actual - nominal) <= 1e-9 * Math.max(1, Math.abs(nominal));
}

describe("fleet design (no Prometheus)", () => {
  it("has the documented nominal values, every aggregate distinct where the data allows", () => {
    const table: Record<string, [number[], number[]]> = {
      "compute-1.example": [
        [31.25, 12.5, 50],
        [9961472, 9437184, 10485760],
      ],
      "compute-2.example": [
        [68.75, 62.5, 75],
        [28311552, 27262976, 29360128],
      ],
      "compute-3.example": [
        [0, 0, 0],
        [1048576, 1048576, 1048576],
      ],
      [ODD_HOST]: [
        [37.5, 25, 50],
        [2621440, 2097152, 3145728],
      ],
      "twin.a.example": [
        [25, 12.5, 37.5],
        [3670016, 3145728, 4194304],
      ],
      "twin.b.example": [
        [75, 62.5, 87.5],
        [6291456, 5242880, 7340032],
      ],
      shorty: [
        [62.5, 50, 75],
        [1310720, 1048576, 1572864],
      ],
    };
    for (const periodSec of PERIODS) {
      for (const [host, [cpu, ram]] of Object.entries(table)) {
        const got = (metric: "host_cpu_usage" | "host_ram_usage") =>
          AGGREGATES.map((aggregate) => nominalValue(fleet, { metric, host, aggregate, periodSec }));
        expect([got("host_cpu_usage"), got("host_ram_usage")], host).toEqual([cpu, ram]);
      }
      const vm = (name: string, vcpus?: number) =>
        AGGREGATES.map((aggregate) => {
          const uuid = vmUuid(name);
          const v = vcpus ?? fleet.vms.find((x) => x.uuid === uuid)?.vcpus ?? 1;
          return [
            nominalValue(fleet, { metric: "instance_cpu_usage", uuid, aggregate, periodSec, vcpus: v }),
            nominalValue(fleet, { metric: "instance_ram_usage", uuid, aggregate, periodSec }),
          ];
        });
      expect(vm("vm-a")).toEqual([
        [25, 768],
        [25, 1024],
        [25, 512],
      ]);
      expect(vm("vm-b")).toEqual([
        [62.5, 2304],
        [75, 2816],
        [50, 1792],
      ]);
      expect(vm("vm-c")).toEqual([
        [100, 800],
        [100, 1000],
        [100, 600],
      ]);
      expect(vm("vm-c", 2).map(([cpu]) => cpu)).toEqual([75, 75, 75]);
      expect(vm("vm-d")).toEqual([
        [0, Number.NaN],
        [0, Number.NaN],
        [0, Number.NaN],
      ]);
    }
    expect(() =>
      nominalValue(fleet, {
        metric: "host_ram_usage",
        host: "compute-1.example",
        aggregate: "avg",
        periodSec: 120,
      }),
    ).toThrow(/whole number/);
  });
});

describe("OpenMetrics rendering", () => {
  it("is deterministic, ordered, in seconds and ends with # EOF", () => {
    const window = fleetWindow(1_800_000_000, { pastSec: 600, futureSec: 300 });
    const text = renderOpenMetrics(fleet, window);
    expect(renderOpenMetrics(fleet, window)).toBe(text);
    expect(text.endsWith("\n# EOF\n")).toBe(true);
    const last = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = /^(.*) (\S+) (\d+)$/.exec(line);
      expect(m, line).not.toBeNull();
      const series = m?.[1] ?? "";
      const t = Number(m?.[3]);
      expect(t).toBeGreaterThanOrEqual(window.startSec);
      expect(t).toBeLessThanOrEqual(window.endSec);
      expect(t).toBeGreaterThan(last.get(series) ?? 0);
      last.set(series, t);
    }
    expect(text).toContain(String.raw`fqdn="odd'host\"x\\y.example"`);
    expect(text).toMatch(/^ceilometer_memory_usage\{.*resource="4444.*\} NaN \d+$/m);
  });
});

describe("sample fleet in a real Prometheus 2.42", () => {
  it("serves the API under the route prefix only", async () => {
    expect(prom.url).toBe(`http://127.0.0.1:${prom.port}/prometheus`);
    const root = await fetch(`http://127.0.0.1:${prom.port}/api/v1/query?query=up`);
    await root.arrayBuffer();
    expect(root.status).toBe(404);
  });

  it("lists every fleet host, verbatim, among the active targets", async () => {
    const hosts = await activeTargetHosts(prom.url, fleet.hostLabel);
    const wanted = [...fleet.hosts.map((h) => h.fqdn), prom.nodeExporterFqdn];
    expect([...hosts].sort()).toEqual(wanted.sort());
    expect(hosts.has(ODD_HOST)).toBe(true);
    // The sg-core target is active too but carries no host label.
    const res = await fetch(`${prom.url}/api/v1/targets?state=active`);
    const body = (await res.json()) as { data: { activeTargets: { labels: Record<string, string> }[] } };
    const sgCore = body.data.activeTargets.filter((t) => t.labels.job === fleet.ceilometerJob);
    expect(sgCore).toHaveLength(1);
    expect(sgCore[0]?.labels[fleet.hostLabel]).toBeUndefined();
  });

  it.each(allQueries().map((q) => [describeQuery(q), q] as const))(
    "%s at now: exactly as predicted and as designed",
    async (_name, query) => {
      const { actual, expected, evalTimeSec } = await compare(query);
      expect(actual).toStrictEqual(expected);
      // A window of 300 s or 600 s at a 30 s step holds whole gauge periods unless it starts
      // exactly on the grid (1 ms in 30 000), when it holds one sample more.
      if (!Number.isInteger(evalTimeSec / 30)) {
        expect(closeTo(expected[0]?.value ?? Number.NaN, nominalValue(fleet, query))).toBe(true);
      }
    },
  );

  it("returns a real 0 for the idle host and the idle VM, and NaN for vm-d's memory", async () => {
    for (const aggregate of AGGREGATES) {
      for (const periodSec of PERIODS) {
        const host = await compare({
          metric: "host_cpu_usage",
          host: "compute-3.example",
          aggregate,
          periodSec,
        });
        expect(host.actual[0]?.value).toBe(0);
        const vm = await compare({
          metric: "instance_cpu_usage",
          uuid: vmUuid("vm-d"),
          aggregate,
          periodSec,
          vcpus: 2,
        });
        expect(vm.actual[0]?.value).toBe(0);
        const ram = await compare({
          metric: "instance_ram_usage",
          uuid: vmUuid("vm-d"),
          aggregate,
          periodSec,
        });
        expect(Number.isNaN(ram.actual[0]?.value)).toBe(true);
      }
    }
  });

  it("keeps compute-3 at exactly 0 at any millisecond, for periods from 60 s to 1800 s", async () => {
    for (const periodSec of [60, 120, 300, 600, 900, 1800]) {
      for (let i = 0; i < 8; i++) {
        const t = prom.startSec - 2400 + i * 30 + (i * 3779) / 1000; // spread over the 30 s phase
        const r = await compare(
          { metric: "host_cpu_usage", host: "compute-3.example", aggregate: "avg", periodSec },
          t,
        );
        expect(r.actual[0]?.value, `${periodSec}s at ${t}`).toBe(0);
      }
    }
  });

  it("selects [t-p, t] with both ends inclusive", async () => {
    const q = "count_over_time(node_memory_MemAvailable_bytes{fqdn='compute-1.example'}[300s])";
    const aligned = prom.startSec - 1800; // on the 30 s grid
    const at = async (t: number) => Number((await instantQuery(q, t))[0]?.value[1]);
    expect(await at(aligned)).toBe(11);
    expect(await at(aligned + 0.001)).toBe(10);
    expect(await at(aligned - 0.001)).toBe(10);
    // ...and the prediction follows. Over ten grid points the extra sample is each pattern element
    // in turn, so the 11-sample average must leave the nominal (10-sample) value at least once.
    const query: FleetQuery = {
      metric: "host_ram_usage",
      host: "compute-1.example",
      aggregate: "avg",
      periodSec: 300,
    };
    let offNominal = 0;
    for (let j = 0; j < 10; j++) {
      const r = await compare(query, aligned + j * 30);
      expect(r.actual).toStrictEqual(r.expected);
      if (r.actual[0]?.value !== nominalValue(fleet, query)) offNominal++;
    }
    expect(offNominal).toBeGreaterThan(0);
    for (const aggregate of AGGREGATES) {
      const r = await compare({ ...query, aggregate }, aligned);
      expect(r.actual).toStrictEqual(r.expected);
    }
  });

  it("predicts every query at other times, on and off the grid, bit for bit", async () => {
    const times = [
      prom.startSec - 6000.123,
      prom.startSec - 3000,
      prom.startSec + 1234.567,
      prom.startSec + 2999.999,
    ];
    for (const t of times) {
      for (const query of allQueries()) {
        const r = await compare(query, t);
        expect(r.actual, `${describeQuery(query)} at ${t}`).toStrictEqual(r.expected);
      }
    }
  });

  it("gives rate() of a linear counter as its slope up to float rounding", async () => {
    const q = (p: number) =>
      `rate(node_cpu_seconds_total{mode='idle',fqdn='compute-1.example',cpu='0'}[${p}s])`;
    for (const p of [300, 600]) {
      for (let i = 0; i < 10; i++) {
        const v = Number((await instantQuery(q(p), prom.startSec - 3600 + i * 61.237))[0]?.value[1]);
        expect(Math.abs(v - 0.75)).toBeLessThanOrEqual(4 * Number.EPSILON);
      }
    }
  });

  it("returns vm-b's two RAM series in label order", async () => {
    const r = await compare({
      metric: "instance_ram_usage",
      uuid: vmUuid("vm-b"),
      aggregate: "avg",
      periodSec: 300,
    });
    expect(r.actual.map((s) => s.labels.publisher)).toEqual(["ceilometer", "ceilometer-b"]);
    expect(r.actual.map((s) => s.value)).toEqual([2304, 3136]);
    const query: FleetQuery = {
      metric: "instance_ram_usage",
      uuid: vmUuid("vm-b"),
      aggregate: "avg",
      periodSec: 300,
    };
    expect(expectedValue(fleet, prom.window, query, r.evalTimeSec)).toBe(r.actual[0]?.value);
  });

  it("scrapes the real node exporter next to the future blocks", async () => {
    const fqdn = prom.nodeExporterFqdn ?? "";
    await waitUntil(
      "a host CPU value for the node exporter",
      async () => {
        const query = watcherPromQL(fleet, {
          metric: "host_cpu_usage",
          host: fqdn,
          aggregate: "avg",
          periodSec: 300,
        });
        const v = Number((await instantQuery(query))[0]?.value[1]);
        return v >= 0 && v <= 100;
      },
      { timeoutMs: 25_000, intervalMs: 500 },
    );
    const up = await instantQuery(`up{fqdn=${JSON.stringify(fqdn)}}`);
    expect(up[0]?.value[1]).toBe("1");
  }, 30_000);
});
