/**
 * The service against a real VictoriaMetrics 1.79 (Debian's `victoria-metrics`, single node) in
 * place of Prometheus: the same fleet imported sample for sample, the same targets listed by its
 * own scraper, every catalogue metric with every aggregate for every host and instance, single and
 * batch, ListHosts and ListMetrics, each answer compared with the same service's answer from the
 * shared Prometheus 2.42 and with the fleet's expected values. What MetricsQL answers differently is
 * pinned here as measured, and explained in docs/backends.md:
 * - rate() (host and instance CPU) takes the sample before the window and does not extrapolate: on
 *   the fleet's linear counters it is the exact slope, Prometheus's answer differs by a few ulps
 *   (≤ 1e-14 relative measured); over a window holding one sample Prometheus has no answer and
 *   VictoriaMetrics does;
 * - a range `[p]` leaves out a sample exactly p old (Prometheus 2.x keeps it): it matters only when
 *   the evaluation time is on the samples' grid, as query_cache_ttl's aligned times can be;
 * - NaN samples are dropped: "no data" either way, but with series_count 0 instead of 1;
 * - a query without `time` is evaluated 30 s in the past (-search.latencyOffset) and answered with
 *   the request's time truncated to the second: fresh samples are not seen for 30 s;
 * - the service logs that the upstream is VictoriaMetrics, naming docs/backends.md.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checkConfig } from "../../src/cli/check-config.js";
import {
  Aggregate,
  Availability,
  ItemStatus,
  type MetricValue,
  QueryForm,
  TargetHealth,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { asEnvironment } from "../support/environment.js";
import { fleetWindow, ODD_HOST, SAMPLE_FLEET } from "../support/fleet.js";
import { expectedOverTime, expectedValue, nominalValue } from "../support/fleet-expected.js";
import type { PromAggregate } from "../support/fleet-promql.js";
import { fleetSeries, samplesIn } from "../support/fleet-series.js";
import { type RunningVictoriaMetrics, startVictoriaMetrics } from "../support/victoria-metrics.js";
import { WATCHER_HOST_METRICS, WATCHER_INSTANCE_METRICS } from "../support/watcher-metrics.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const stack = inject("stack");
const window = fleetWindow(stack.prometheus.startSec);
const HOSTS = SAMPLE_FLEET.hosts.map((h) => h.fqdn);
const INSTANCES = SAMPLE_FLEET.vms.map((vm) => ({ instanceId: vm.uuid, vcpus: vm.vcpus }));
const HOST_METRICS = [...WATCHER_HOST_METRICS];
const INSTANCE_METRICS = [...WATCHER_INSTANCE_METRICS];
const AGGREGATES: [Aggregate, PromAggregate][] = [
  [Aggregate.MEAN, "avg"],
  [Aggregate.MAX, "max"],
  [Aggregate.MIN, "min"],
  [Aggregate.COUNT, "avg"],
];
const PERIODS = [300, 600];
/** The metrics whose template takes rate() of a counter. */
const RATE_METRICS = new Set(["host_cpu_usage", "instance_cpu_usage"]);
/**
 * Largest relative difference allowed between the two backends where their arithmetic differs:
 * measured up to 2.3e-15 for rates (host CPU, 60 s; Prometheus's extrapolation factor, while
 * VictoriaMetrics gives the exact slope) over 18 evaluation times × 4 periods × 3 aggregates × every
 * host and instance, and 1.5e-16 for means (767.9999999999999 against 768).
 */
const ROUNDING_TOLERANCE = 1e-13;
/** VictoriaMetrics's -search.latencyOffset default: how far in the past "now" is evaluated. */
const LATENCY_OFFSET_SEC = 30;
const OVER_TIME_SERIES: Readonly<Record<string, string>> = {
  host_outlet_temp: "ceilometer_hardware_ipmi_node_outlet_temperature",
  host_inlet_temp: "ceilometer_hardware_ipmi_node_temperature",
  host_airflow: "ceilometer_hardware_ipmi_node_airflow",
  host_power: "ceilometer_hardware_ipmi_node_power",
  instance_ram_allocated: "ceilometer_memory",
  instance_l3_cache_usage: "ceilometer_cpu_l3_cache",
  instance_root_disk_size: "ceilometer_disk_root_size",
};
const VM_D = SAMPLE_FLEET.vms.find((v) => v.name === "vm-d")?.uuid ?? "";
const VICTORIA_WARNING =
  "the upstream answers as VictoriaMetrics, not as Prometheus: some metrics can differ from the numbers Watcher computes on Prometheus (docs/backends.md)";

let victoria: RunningVictoriaMetrics;
let viaVictoria: TestApp;
let viaPrometheus: TestApp;
/** Resolves with the ms from VictoriaMetrics's start to the node exporter's first answer through it. */
let nodeExporterVisibleAfter: Promise<number>;

const prometheusOptions = (): Options => ({
  "watcher_datasources.datasources": "prometheus",
  "prometheus_client.host": stack.prometheus.host,
  "prometheus_client.port": String(stack.prometheus.port),
});
const victoriaOptions = (): Options => ({
  "watcher_datasources.datasources": "prometheus",
  "prometheus_client.host": victoria.host,
  "prometheus_client.port": String(victoria.port),
});

beforeAll(async () => {
  victoria = await startVictoriaMetrics({
    baseDir: join(ROOT, ".run", "victoria-metrics"),
    originSec: stack.prometheus.startSec,
  });
  [viaVictoria, viaPrometheus] = await Promise.all([
    startTestApp(victoriaOptions()),
    startTestApp(prometheusOptions()),
  ]);
  // Polled in the background while the other tests run; awaited by the last one.
  nodeExporterVisibleAfter = (async () => {
    const host = victoria.nodeExporterFqdn ?? "";
    for (;;) {
      const { result } = await viaVictoria.client.getHostMetric({ host, metric: "host_ram_usage" });
      if (result?.value !== undefined) return Date.now() - victoria.startedMs;
      if (Date.now() - victoria.startedMs > 60_000) throw new Error("no node exporter data after 60 s");
      await sleep(500);
    }
  })();
  nodeExporterVisibleAfter.catch(() => {});
});
afterAll(async () => {
  await Promise.all([viaVictoria?.stop(), viaPrometheus?.stop()]);
  await victoria?.stop();
});

function evalMs(result: MetricValue | undefined): number {
  const time: Timestamp | undefined = result?.evaluationTime;
  if (!time) throw new Error("no evaluation_time in the answer");
  return timestampMs(time);
}

/**
 * What Prometheus 2.42 answers for `metric` of `resource` evaluated at `evalSec` (the fleet repeats
 * its arithmetic bit for bit), NaN as undefined (no data). `agg` is the request's aggregate.
 */
function fleetValue(
  metric: string,
  resource: string,
  agg: PromAggregate,
  periodSec: number,
  evalSec: number,
  vcpus = 1,
): number | undefined {
  let value: number | undefined;
  if (metric === "host_cpu_usage" || metric === "host_ram_usage") {
    // Watcher's max/min inversion for these two.
    const inverted: PromAggregate = agg === "max" ? "min" : agg === "min" ? "max" : agg;
    value = expectedValue(
      SAMPLE_FLEET,
      window,
      { metric, host: resource, aggregate: inverted, periodSec },
      evalSec,
    );
  } else if (metric === "instance_cpu_usage") {
    value = expectedValue(
      SAMPLE_FLEET,
      window,
      { metric, uuid: resource, aggregate: agg, periodSec, vcpus },
      evalSec,
    );
  } else if (metric === "instance_ram_usage") {
    value = expectedValue(
      SAMPLE_FLEET,
      window,
      { metric, uuid: resource, aggregate: agg, periodSec },
      evalSec,
    );
  } else {
    const label = metric.startsWith("host_") ? "fqdn" : "resource";
    const series = OVER_TIME_SERIES[metric] ?? "";
    value = expectedOverTime(
      SAMPLE_FLEET,
      window,
      { series, matchers: { [label]: resource }, aggregate: agg, periodSec },
      evalSec,
    );
  }
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

/**
 * What VictoriaMetrics answers at "now", from the fleet's samples: a rate is the counter's exact
 * slope (the fleet's nominal value); a gauge over the period is the plain sum over count, maximum or
 * minimum of the samples in `(t-p, t]`, NaN samples dropped. `t` is the reported time less the
 * latency offset, give or take a second (the evaluation instant itself is not reported); any `t`
 * off the sample grid gives the same answer, since the window holds whole pattern periods.
 */
function victoriaValue(
  metric: string,
  resource: string,
  agg: PromAggregate,
  periodSec: number,
  reportedMs: number,
  vcpus = 1,
): number | undefined {
  const inverted: PromAggregate = agg === "max" ? "min" : agg === "min" ? "max" : agg;
  switch (metric) {
    case "host_cpu_usage":
      return nominalValue(SAMPLE_FLEET, { metric, host: resource, aggregate: inverted, periodSec });
    case "instance_cpu_usage":
      return nominalValue(SAMPLE_FLEET, { metric, uuid: resource, aggregate: agg, periodSec, vcpus });
  }
  const evalMs = reportedMs - LATENCY_OFFSET_SEC * 1000 + 500;
  const overTime = (name: string, matchers: Record<string, string>, a: PromAggregate) => {
    const [first] = fleetSeries(SAMPLE_FLEET, window)
      .filter((x) => x.name === name && Object.entries(matchers).every(([k, v]) => x.labels[k] === v))
      .map((x) => ({
        key: JSON.stringify(Object.entries(x.labels).sort()),
        values: samplesIn(x, window, evalMs - periodSec * 1000 + 1, evalMs)
          .map((p) => p.v)
          .filter((v) => !Number.isNaN(v)),
      }))
      .filter((x) => x.values.length > 0)
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    if (first === undefined) return undefined;
    if (a === "max") return Math.max(...first.values);
    if (a === "min") return Math.min(...first.values);
    return first.values.reduce((sum, v) => sum + v, 0) / first.values.length;
  };
  if (metric === "host_ram_usage") {
    const total = SAMPLE_FLEET.hosts.find((h) => h.fqdn === resource)?.memTotalBytes;
    const available = overTime("node_memory_MemAvailable_bytes", { fqdn: resource }, inverted);
    return total === undefined || available === undefined ? undefined : (total - available) / 1024;
  }
  if (metric === "instance_ram_usage") return overTime("ceilometer_memory_usage", { resource }, agg);
  const label = metric.startsWith("host_") ? "fqdn" : "resource";
  return overTime(OVER_TIME_SERIES[metric] ?? "", { [label]: resource }, agg);
}

/**
 * The measured relation between the two answers of one item: the same number, except a few ulps
 * where the arithmetic differs — rate() (Prometheus's extrapolation factor) and means (Prometheus
 * 2.42 keeps an incremental mean with Kahan compensation, VictoriaMetrics divides the sum).
 */
function expectSameNumber(
  metric: string,
  agg: PromAggregate,
  fromVictoria: number | undefined,
  fromPrometheus: number | undefined,
) {
  const rounding = RATE_METRICS.has(metric) || agg === "avg";
  if (rounding && fromVictoria !== undefined && fromPrometheus !== undefined) {
    const scale = Math.max(1, Math.abs(fromPrometheus));
    expect(Math.abs(fromVictoria - fromPrometheus) / scale, metric).toBeLessThanOrEqual(ROUNDING_TOLERANCE);
  } else {
    expect(fromVictoria, metric).toBe(fromPrometheus);
  }
}

/** The reported evaluation time of an answer that came from VictoriaMetrics at "now". */
function expectVictoriaTime(result: MetricValue | undefined, askedMs: number, answeredMs: number): void {
  const ms = evalMs(result);
  if ((result?.seriesCount ?? 0) === 0) return; // no sample: the service's own clock
  expect(ms % 1000).toBe(0);
  expect(ms).toBeGreaterThanOrEqual(Math.floor(askedMs / 1000) * 1000);
  expect(ms).toBeLessThanOrEqual(answeredMs);
}

describe("VictoriaMetrics as the service's upstream", () => {
  it("holds the fleet's samples and is told apart from Prometheus at start-up, in the log", async () => {
    expect(victoria.importedSamples).toBeGreaterThan(60_000);
    const line = async (app: TestApp, msg: string) => {
      for (let i = 0; i < 100 && !app.logs.some((l) => l.msg === msg); i++) await sleep(50);
      return app.logs.find((l) => l.msg === msg);
    };
    expect(await line(viaVictoria, VICTORIA_WARNING)).toMatchObject({
      level: "warn",
      backend: "victoriametrics",
      origin: `http://127.0.0.1:${victoria.port}`,
    });
    expect(await line(viaPrometheus, "upstream identified as Prometheus")).toMatchObject({
      level: "info",
      backend: "prometheus",
      version: expect.stringMatching(/^2\.42\./),
    });
    expect(viaPrometheus.logs.some((l) => l.msg === VICTORIA_WARNING)).toBe(false);
  });

  it("is named in check-config's report, which still passes", async () => {
    const report = await checkConfig(
      { configFiles: [], host: undefined, instance: undefined },
      {
        env: asEnvironment(victoriaOptions()),
        readFile: () => {
          throw new Error("no configuration file is read");
        },
        stdout: () => {},
        stderr: () => {},
      },
    );
    expect(report.exitCode).toBe(0);
    expect(report.checks.find((c) => c.check === "prometheus")).toEqual({
      check: "prometheus",
      status: "ok",
      detail:
        "answered GET /api/v1/status/buildinfo: VictoriaMetrics: its MetricsQL answers some metrics differently from Prometheus (docs/backends.md)",
      data: { backend: "victoriametrics" },
    });
  });

  it("lists the same hosts and targets as Prometheus, from its own scraper", async () => {
    const [fromVictoria, fromPrometheus] = await Promise.all([
      viaVictoria.client.listHosts({}),
      viaPrometheus.client.listHosts({}),
    ]);
    // Each backend scrapes a node exporter of its own: their addresses differ, nothing else.
    const shape = (hosts: typeof fromVictoria.hosts) =>
      hosts.map((h) => ({
        labelValue: h.labelValue,
        shortName: h.shortName,
        targets: h.targets.map((t) => ({
          job: t.job,
          instance: t.job === "node-exporter" ? "127.0.0.1:<port>" : t.instance,
        })),
      }));
    expect(shape(fromVictoria.hosts)).toEqual(shape(fromPrometheus.hosts));
    const own = fromVictoria.hosts.find((h) => h.labelValue === victoria.nodeExporterFqdn);
    expect(own?.targets.map((t) => t.instance)).toEqual([victoria.nodeExporter?.address]);
    expect(fromVictoria.hosts.map((h) => h.labelValue)).toEqual([...HOSTS, victoria.nodeExporterFqdn].sort());
    // The placeholders are never reached: down, as in Prometheus, and listed all the same.
    const compute1 = fromVictoria.hosts.find((h) => h.labelValue === "compute-1.example");
    expect(compute1?.targets.map((t) => [t.job, t.instance, t.health])).toEqual([
      ["node", "10.0.0.1:9100", TargetHealth.DOWN],
    ]);
  });

  it("lists every metric as available, as Prometheus does", async () => {
    const [fromVictoria, fromPrometheus] = await Promise.all([
      viaVictoria.client.listMetrics({}),
      viaPrometheus.client.listMetrics({}),
    ]);
    expect(fromVictoria.metrics).toHaveLength(11);
    expect(fromVictoria.metrics.every((m) => m.availability === Availability.AVAILABLE)).toBe(true);
    expect(fromVictoria).toEqual(fromPrometheus);
  });
});

describe("every catalogue metric, one call per resource", () => {
  for (const [aggregate, agg] of AGGREGATES) {
    for (const period of PERIODS) {
      it(`host metrics of every host, ${Aggregate[aggregate]}, ${period} s`, async () => {
        for (const metric of HOST_METRICS) {
          for (const host of HOSTS) {
            const ask = { host, metric, aggregate, period: { seconds: BigInt(period) } };
            const asked = Date.now();
            const [v, p] = await Promise.all([
              viaVictoria.client.getHostMetric(ask),
              viaPrometheus.client.getHostMetric(ask),
            ]);
            const answered = Date.now();
            const what = `${metric} of ${host}`;
            expect(v.result?.value, what).toBe(victoriaValue(metric, host, agg, period, evalMs(v.result)));
            expect(p.result?.value, what).toBe(
              fleetValue(metric, host, agg, period, evalMs(p.result) / 1000),
            );
            expectSameNumber(metric, agg, v.result?.value, p.result?.value);
            expect({ ...v.result, value: 0, evaluationTime: undefined }).toEqual({
              ...p.result,
              value: 0,
              evaluationTime: undefined,
            });
            expectVictoriaTime(v.result, asked, answered);
          }
        }
      });

      it(`instance metrics of every instance, ${Aggregate[aggregate]}, ${period} s`, async () => {
        for (const metric of INSTANCE_METRICS) {
          for (const { instanceId, vcpus } of INSTANCES) {
            const ask = { instanceId, metric, aggregate, vcpus, period: { seconds: BigInt(period) } };
            const [v, p] = await Promise.all([
              viaVictoria.client.getInstanceMetric(ask),
              viaPrometheus.client.getInstanceMetric(ask),
            ]);
            const what = `${metric} of ${instanceId}`;
            expect(v.result?.value, what).toBe(
              victoriaValue(metric, instanceId, agg, period, evalMs(v.result), vcpus),
            );
            expect(p.result?.value, what).toBe(
              fleetValue(metric, instanceId, agg, period, evalMs(p.result) / 1000, vcpus),
            );
            expectSameNumber(metric, agg, v.result?.value, p.result?.value);
            // vm-d's memory is NaN: Prometheus returns the series with NaN, VictoriaMetrics drops it.
            const nanSeries = metric === "instance_ram_usage" && instanceId === VM_D;
            expect(v.result?.seriesCount, what).toBe(nanSeries ? 0 : p.result?.seriesCount);
            expect(v.result?.query).toBe(p.result?.query);
          }
        }
      });
    }
  }
});

describe("batches", () => {
  for (const [aggregate, agg] of AGGREGATES) {
    it(`every host and instance metric of every resource, ${Aggregate[aggregate]}, 300 s`, async () => {
      const hostAsk = { hosts: HOSTS, metrics: HOST_METRICS, aggregate, period: { seconds: 300n } };
      const instanceAsk = {
        instances: INSTANCES,
        metrics: INSTANCE_METRICS,
        aggregate,
        period: { seconds: 300n },
      };
      const [vh, ph, vi, pi] = await Promise.all([
        viaVictoria.client.getHostMetrics(hostAsk),
        viaPrometheus.client.getHostMetrics(hostAsk),
        viaVictoria.client.getInstanceMetrics(instanceAsk),
        viaPrometheus.client.getInstanceMetrics(instanceAsk),
      ]);
      expect(vh.queries).toEqual(ph.queries);
      expect(vh.items).toHaveLength(HOSTS.length * HOST_METRICS.length);
      vh.items.forEach((item, i) => {
        const other = ph.items[i];
        const metric = item.result?.metric ?? "";
        expect([item.host, metric, item.status]).toEqual([other?.host, other?.result?.metric, other?.status]);
        expect(item.result?.value).toBe(victoriaValue(metric, item.host, agg, 300, evalMs(item.result)));
        expectSameNumber(metric, agg, item.result?.value, other?.result?.value);
      });
      expect(vi.queries).toEqual(pi.queries);
      vi.items.forEach((item, i) => {
        const other = pi.items[i];
        const metric = item.result?.metric ?? "";
        const vcpus = INSTANCES.find((x) => x.instanceId === item.instanceId)?.vcpus;
        expect([item.instanceId, metric, item.status]).toEqual([
          other?.instanceId,
          other?.result?.metric,
          other?.status,
        ]);
        expect(item.result?.value).toBe(
          victoriaValue(metric, item.instanceId, agg, 300, evalMs(item.result), vcpus),
        );
        expectSameNumber(metric, agg, item.result?.value, other?.result?.value);
      });
      // NaN is no data from either backend.
      const nan = (items: typeof vi.items) =>
        items.find((x) => x.instanceId === VM_D && x.result?.metric === "instance_ram_usage")?.status;
      expect([nan(vi.items), nan(pi.items)]).toEqual([ItemStatus.NO_DATA, ItemStatus.NO_DATA]);
    });
  }

  it("answers every host unfiltered, in label order, with the numbers Prometheus gives", async () => {
    const ask = { allHosts: true, metrics: ["host_cpu_usage", "host_power"], aggregate: Aggregate.MAX };
    const [v, p] = await Promise.all([
      viaVictoria.client.getHostMetrics(ask),
      viaPrometheus.client.getHostMetrics(ask),
    ]);
    expect(v.queries.map((q) => q.form)).toEqual([QueryForm.UNFILTERED, QueryForm.UNFILTERED]);
    expect(v.queries).toEqual(p.queries);
    const fleetItems = (items: typeof v.items) => items.filter((i) => HOSTS.includes(i.host));
    expect(fleetItems(v.items).map((i) => [i.host, i.result?.metric, i.status])).toEqual(
      fleetItems(p.items).map((i) => [i.host, i.result?.metric, i.status]),
    );
    fleetItems(v.items).forEach((item, i) => {
      const metric = item.result?.metric ?? "";
      expectSameNumber(metric, "max", item.result?.value, fleetItems(p.items)[i]?.result?.value);
    });
  });
});

describe("what the service does the same way on both", () => {
  it("resolves short names, refuses an ambiguous one and an unknown host, and escapes the odd host", async () => {
    for (const app of [viaVictoria, viaPrometheus]) {
      const short = await app.client.getHostMetric({ host: "compute-2", metric: "host_cpu_usage" });
      expect(short.result?.labelValue).toBe("compute-2.example");
      const odd = await app.client.getHostMetric({ host: ODD_HOST, metric: "host_power" });
      expect(odd.result?.value).toBe(120);
      const twin = await callError(app.client.getHostMetric({ host: "twin", metric: "host_cpu_usage" }));
      expect([twin.code, twin.metadata.get("x-error-reason")]).toEqual([
        Code.FailedPrecondition,
        "HOST_AMBIGUOUS",
      ]);
      const ghost = await callError(
        app.client.getHostMetric({ host: "ghost.example", metric: "host_power" }),
      );
      expect(ghost.code).toBe(Code.NotFound);
    }
  });

  it("answers SERIES_ABSENT for a series neither holds, with the same message", async () => {
    const absent = { "metric.host_power.series": "ipmi_dcmi_power_consumption_watts" };
    const apps = await Promise.all([
      startTestApp({ ...victoriaOptions(), ...absent }),
      startTestApp({ ...prometheusOptions(), ...absent }),
    ]);
    try {
      const errors = await Promise.all(
        apps.map((app) =>
          callError(app.client.getHostMetric({ host: "compute-1.example", metric: "host_power" })),
        ),
      );
      expect(errors.map((e) => [e.code, e.rawMessage])).toEqual([
        [Code.FailedPrecondition, errors[1]?.rawMessage],
        [Code.FailedPrecondition, expect.stringContaining("ipmi_dcmi_power_consumption_watts")],
      ]);
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
    }
  });
});

describe("where MetricsQL answers differently (docs/backends.md)", () => {
  it("answers rate() over a window holding one sample, where Prometheus has no answer", async () => {
    const ask = { host: "compute-1.example", metric: "host_cpu_usage", period: { seconds: 30n } };
    const [v, p] = await Promise.all([
      viaVictoria.client.getHostMetric(ask),
      viaPrometheus.client.getHostMetric(ask),
    ]);
    // The sample before the window and the one in it: the slope, exactly.
    expect(v.result?.value).toBe(31.25);
    // Prometheus needs two samples in [t-30s, t]: off the 30 s grid there is one.
    const onGrid = evalMs(p.result) % 30_000 === 0;
    expect(p.result?.value).toBe(
      onGrid ? fleetValue("host_cpu_usage", ask.host, "avg", 30, evalMs(p.result) / 1000) : undefined,
    );
  });

  it("leaves a sample exactly one period old out of the window where Prometheus 2.42 keeps it (aligned cache times)", async () => {
    // With query_cache_ttl the service asks for a time on a whole minute, which is on the fleet's
    // 30 s sample grid: Prometheus 2.42 then reads 11 samples over 300 s, VictoriaMetrics 10.
    const ttl = { "metrics_access.query_cache_ttl": "60" };
    const apps = await Promise.all([
      startTestApp({ ...victoriaOptions(), ...ttl }),
      startTestApp({ ...prometheusOptions(), ...ttl }),
    ]);
    try {
      let differed = 0;
      for (const metric of ["host_power", "host_airflow", "host_outlet_temp"]) {
        for (const host of ["compute-1.example", "compute-2.example"]) {
          const ask = { host, metric, aggregate: Aggregate.MEAN };
          const [v, p] = await Promise.all(apps.map((app) => app.client.getHostMetric(ask)));
          const [vMs, pMs] = [evalMs(v?.result), evalMs(p?.result)];
          expect([vMs % 60_000, pMs % 60_000]).toEqual([0, 0]);
          // VictoriaMetrics's (t-300s, t] holds whole pattern periods wherever t is.
          const prometheus = fleetValue(metric, host, "avg", 300, pMs / 1000);
          const victoriaMetrics = victoriaValue(metric, host, "avg", 300, vMs);
          expect(p?.result?.value).toBe(prometheus);
          expect(v?.result?.value).toBe(victoriaMetrics);
          if (Math.abs((prometheus ?? 0) - (victoriaMetrics ?? 0)) > 1e-9) differed++;
        }
      }
      // Whether the extra sample moves a mean depends on where the pattern stands at that minute;
      // compute-2's power ([410, 430], mean 420) has no sample equal to its mean: it always moves.
      expect(differed).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
    }
  });

  it("does not see a scraped sample until it is 30 s old (-search.latencyOffset)", async () => {
    const host = victoria.nodeExporterFqdn ?? "";
    const fromPrometheus = await viaPrometheus.client.getHostMetric({ host, metric: "host_ram_usage" });
    expect(fromPrometheus.result?.value).toBeGreaterThan(0);
    const after = await nodeExporterVisibleAfter;
    // No sample can be older than the process; the first scrape comes within one scrape interval
    // (5 s) of the start, and the poll looks every 0.5 s.
    expect(after).toBeGreaterThanOrEqual(LATENCY_OFFSET_SEC * 1000);
    expect(after).toBeLessThan((LATENCY_OFFSET_SEC + 15) * 1000);
    const fromVictoria = await viaVictoria.client.getHostMetric({ host, metric: "host_ram_usage" });
    expect(fromVictoria.result?.value).toBeGreaterThan(0);
  }, 70_000);
});
