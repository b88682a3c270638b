import { describe, expect, it } from "vitest";
import type { MetricLabels } from "../config/types.js";
import type { ActiveTarget, CallOptions, Datasource, Sample } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { Catalogue } from "./catalogue.js";
import { buildCatalogue, type MetricOverride } from "./catalogue-build.js";
import { HostDirectory } from "./hosts.js";
import { SeriesNames } from "./series-names.js";
import { type Aggregate, MetricsService } from "./service.js";

type MetricName = string;

const HOST = "marios-env.controlplane.domain";
const NOW = 1_700_000_000_000;

/** An in-memory datasource that records every PromQL string it is given. */
class FakeDatasource implements Datasource {
  readonly name = "prometheus";
  readonly maxQueryLength: number | undefined = undefined;
  readonly queries: string[] = [];
  readonly signals: (AbortSignal | undefined)[] = [];
  samples: Sample[] = [];
  seriesNameLoads = 0;
  /** What GET /api/v1/label/__name__/values answers; undefined: only part of the series are shown. */
  names: string[] | undefined = buildCatalogue([]).metrics.flatMap((m) => m.series);

  constructor(readonly labels: MetricLabels = { fqdn: "fqdn", instanceUuid: "resource" }) {}

  async instantQuery(promql: string, options: CallOptions): Promise<Sample[]> {
    this.queries.push(promql);
    this.signals.push(options.signal);
    return this.samples;
  }

  queryLength(promql: string): number {
    return promql.length;
  }

  async activeTargets(): Promise<ActiveTarget[]> {
    return [];
  }

  async projectScope(): Promise<string | undefined> {
    return undefined;
  }
  async seriesNames(): Promise<string[] | undefined> {
    this.seriesNameLoads++;
    return this.names;
  }

  async probe(): Promise<void> {}

  async close(): Promise<void> {}
}

function setup(options: { labels?: MetricLabels; hostValues?: string[]; overrides?: MetricOverride[] } = {}) {
  const labels = options.labels ?? { fqdn: "fqdn", instanceUuid: "resource" };
  const datasource = new FakeDatasource(labels);
  let loads = 0;
  const hosts = new HostDirectory({
    label: labels.fqdn,
    minRefreshIntervalMs: 10_000,
    loadTargets: async () => {
      loads++;
      return (options.hostValues ?? [HOST]).map((value) => ({
        labels: { [labels.fqdn]: value, job: "node", instance: `${value}:9100` },
        health: "up",
      }));
    },
  });
  const built = buildCatalogue(options.overrides ?? []);
  expect(built.problems).toEqual([]);
  const seriesNames = new SeriesNames({ load: () => datasource.seriesNames(), maxAgeMs: 10_000 });
  const catalogue = new Catalogue(built.metrics);
  const service = new MetricsService({ datasource, hosts, catalogue, seriesNames, now: () => NOW });
  return { datasource, service, loads: () => loads };
}

async function failure(promise: Promise<unknown>): Promise<MetricsAccessError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MetricsAccessError);
  return err as MetricsAccessError;
}

const sample = (
  value: string,
  labels: Record<string, string> = {},
  timestamp = 1_700_000_123.456,
): Sample => ({
  labels,
  timestamp,
  value,
});

describe("host metric queries", () => {
  const cases: [MetricName, Aggregate, string, number, string][] = [
    [
      "host_cpu_usage",
      "mean",
      "fqdn",
      300,
      "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "count",
      "fqdn",
      300,
      "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "max",
      "fqdn",
      300,
      "100 - (min by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "min",
      "fqdn",
      300,
      "100 - (max by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='marios-env.controlplane.domain'}[300s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "mean",
      "custom_fqdn_label",
      111,
      "100 - (avg by (custom_fqdn_label)(rate(node_cpu_seconds_total{mode='idle',custom_fqdn_label='marios-env.controlplane.domain'}[111s])) * 100)",
    ],
    [
      "host_cpu_usage",
      "min",
      "custom_fqdn_label",
      444,
      "100 - (max by (custom_fqdn_label)(rate(node_cpu_seconds_total{mode='idle',custom_fqdn_label='marios-env.controlplane.domain'}[444s])) * 100)",
    ],
    [
      "host_ram_usage",
      "mean",
      "fqdn",
      300,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - avg_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "count",
      "fqdn",
      300,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - avg_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "max",
      "fqdn",
      300,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - min_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "min",
      "fqdn",
      300,
      "(node_memory_MemTotal_bytes{fqdn='marios-env.controlplane.domain'} - max_over_time(node_memory_MemAvailable_bytes{fqdn='marios-env.controlplane.domain'}[300s])) / 1024",
    ],
    [
      "host_ram_usage",
      "mean",
      "custom_fqdn_label",
      111,
      "(node_memory_MemTotal_bytes{custom_fqdn_label='marios-env.controlplane.domain'} - avg_over_time(node_memory_MemAvailable_bytes{custom_fqdn_label='marios-env.controlplane.domain'}[111s])) / 1024",
    ],
    [
      "host_ram_usage",
      "max",
      "custom_fqdn_label",
      444,
      "(node_memory_MemTotal_bytes{custom_fqdn_label='marios-env.controlplane.domain'} - min_over_time(node_memory_MemAvailable_bytes{custom_fqdn_label='marios-env.controlplane.domain'}[444s])) / 1024",
    ],
  ];

  it.each(cases)("%s %s by %s over %is", async (metric, aggregate, label, periodSeconds, expected) => {
    const { datasource, service } = setup({ labels: { fqdn: label, instanceUuid: "resource" } });
    const answer = await service.hostMetric({ host: HOST, metric, periodSeconds, aggregate });
    expect(datasource.queries).toEqual([expected]);
    expect(answer.query).toBe(expected);
    expect(answer.labelValue).toBe(HOST);
  });

  it("queries by the FQDN a short host name resolves to", async () => {
    const { datasource, service } = setup();
    const answer = await service.hostMetric({
      host: "marios-env",
      metric: "host_cpu_usage",
      periodSeconds: 300,
      aggregate: "mean",
    });
    expect(answer.labelValue).toBe(HOST);
    expect(datasource.queries[0]).toContain("fqdn='marios-env.controlplane.domain'");
  });

  it("puts the period in as whole seconds", async () => {
    const { datasource, service } = setup();
    await service.hostMetric({
      host: HOST,
      metric: "host_ram_usage",
      periodSeconds: 31_622_400,
      aggregate: "mean",
    });
    expect(datasource.queries[0]).toContain("[31622400s]");
    expect(datasource.queries[0]).not.toMatch(/e\+|\.0s/);
  });

  it("escapes a host label value so that it cannot end the string literal", async () => {
    const odd = "it's\\{x}";
    const { datasource, service } = setup({ hostValues: [odd] });
    await service.hostMetric({ host: odd, metric: "host_cpu_usage", periodSeconds: 300, aggregate: "mean" });
    expect(datasource.queries[0]).toBe(
      "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='it\\'s\\\\{x}'}[300s])) * 100)",
    );
  });

  it("reports not_found for an unknown host and sends no query", async () => {
    const { datasource, service } = setup();
    const err = await failure(
      service.hostMetric({ host: "ghost", metric: "host_cpu_usage", periodSeconds: 300, aggregate: "mean" }),
    );
    expect(err.code).toBe("not_found");
    expect(err.message).toContain('"ghost"');
    expect(datasource.queries).toEqual([]);
  });

  it("rejects an instance metric asked for a host", async () => {
    const { service } = setup();
    const err = await failure(
      service.hostMetric({ host: HOST, metric: "instance_cpu_usage", periodSeconds: 300, aggregate: "mean" }),
    );
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toMatch(/^metric: /);
  });
});

describe("instance metric queries", () => {
  const cases: [MetricName, Aggregate, string, number, number, string][] = [
    [
      "instance_cpu_usage",
      "mean",
      "resource",
      300,
      2,
      "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/2), 100)",
    ],
    [
      "instance_cpu_usage",
      "max",
      "resource",
      300,
      4,
      "clamp_max((max by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/4), 100)",
    ],
    [
      "instance_cpu_usage",
      "min",
      "resource",
      300,
      2,
      "clamp_max((min by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/2), 100)",
    ],
    [
      "instance_cpu_usage",
      "count",
      "resource",
      300,
      2,
      "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/2), 100)",
    ],
    [
      "instance_cpu_usage",
      "mean",
      "custom_uuid_label",
      111,
      2,
      "clamp_max((avg by (custom_uuid_label)(rate(ceilometer_cpu{custom_uuid_label='uuid-0'}[111s]))/10e+8) *(100/2), 100)",
    ],
    [
      "instance_cpu_usage",
      "max",
      "custom_uuid_label",
      444,
      4,
      "clamp_max((max by (custom_uuid_label)(rate(ceilometer_cpu{custom_uuid_label='uuid-0'}[444s]))/10e+8) *(100/4), 100)",
    ],
    [
      "instance_ram_usage",
      "mean",
      "resource",
      300,
      2,
      "avg_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
    ],
    [
      "instance_ram_usage",
      "min",
      "resource",
      300,
      2,
      "min_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
    ],
    [
      "instance_ram_usage",
      "max",
      "custom_uuid_label",
      222,
      2,
      "max_over_time(ceilometer_memory_usage{custom_uuid_label='uuid-0'}[222s])",
    ],
    [
      "instance_ram_usage",
      "count",
      "resource",
      300,
      2,
      "avg_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
    ],
  ];

  it.each(cases)(
    "%s %s by %s over %is with %i vCPUs",
    async (metric, aggregate, label, periodSeconds, vcpus, expected) => {
      const { datasource, service, loads } = setup({ labels: { fqdn: "fqdn", instanceUuid: label } });
      const answer = await service.instanceMetric({
        instanceId: "uuid-0",
        metric,
        periodSeconds,
        aggregate,
        vcpus,
      });
      expect(datasource.queries).toEqual([expected]);
      expect(answer.query).toBe(expected);
      expect(answer.labelValue).toBe("uuid-0");
      expect(loads()).toBe(0);
    },
  );

  it("assumes one vCPU when the count is 0 (unknown)", async () => {
    const { datasource, service } = setup();
    await service.instanceMetric({
      instanceId: "uuid-0",
      metric: "instance_cpu_usage",
      periodSeconds: 300,
      aggregate: "mean",
      vcpus: 0,
    });
    expect(datasource.queries).toEqual([
      "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/1), 100)",
    ]);
  });

  it("rejects a host metric asked for an instance", async () => {
    const { service } = setup();
    const err = await failure(
      service.instanceMetric({
        instanceId: "uuid-0",
        metric: "host_cpu_usage",
        periodSeconds: 300,
        aggregate: "mean",
        vcpus: 1,
      }),
    );
    expect(err.code).toBe("invalid_argument");
    expect(err.field).toBe("metric");
  });

  it("passes the caller's signal to the datasource", async () => {
    const { datasource, service } = setup();
    const signal = new AbortController().signal;
    await service.instanceMetric(
      { instanceId: "uuid-0", metric: "instance_ram_usage", periodSeconds: 300, aggregate: "mean", vcpus: 1 },
      { signal },
    );
    expect(datasource.signals).toEqual([signal]);
  });
});

describe("answers", () => {
  async function answerFor(samples: Sample[]) {
    const { datasource, service } = setup();
    datasource.samples = samples;
    return await service.instanceMetric({
      instanceId: "uuid-0",
      metric: "instance_ram_usage",
      periodSeconds: 300,
      aggregate: "mean",
      vcpus: 1,
    });
  }

  it("gives the value, the unit, the evaluation time in ms and one series", async () => {
    const answer = await answerFor([sample("2048.5", { resource: "uuid-0" }, 1_700_000_123.456)]);
    expect(answer).toEqual({
      metric: "instance_ram_usage",
      value: 2048.5,
      unit: "MBy",
      labelName: "resource",
      labelValue: "uuid-0",
      evaluationTime: 1_700_000_123_456,
      query: "avg_over_time(ceilometer_memory_usage{resource='uuid-0'}[300s])",
      seriesCount: 1,
    });
  });

  it("uses each metric's unit", async () => {
    const { datasource, service } = setup();
    datasource.samples = [sample("1")];
    const unit = async (metric: MetricName) =>
      (await service.hostMetric({ host: HOST, metric, periodSeconds: 300, aggregate: "mean" })).unit;
    expect(await unit("host_cpu_usage")).toBe("%");
    expect(await unit("host_ram_usage")).toBe("KiBy");
    expect(await unit("host_inlet_temp")).toBe("Cel");
  });

  it("has no value for an empty result, and the time of asking as evaluation time", async () => {
    const answer = await answerFor([]);
    expect(answer.value).toBeUndefined();
    expect(answer.evaluationTime).toBe(NOW);
    expect(answer.seriesCount).toBe(0);
  });

  it.each([
    ["0", 0],
    ["-0.5", -0.5],
    ["1e3", 1000],
    ["42", 42],
    ["+Inf", Number.POSITIVE_INFINITY],
    ["-Inf", Number.NEGATIVE_INFINITY],
  ])("reads %s as %d", async (text, value) => {
    expect((await answerFor([sample(text)])).value).toBe(value);
  });

  it("keeps a zero as zero, unlike Watcher's host getters", async () => {
    const { datasource, service } = setup();
    datasource.samples = [sample("0")];
    const answer = await service.hostMetric({
      host: HOST,
      metric: "host_cpu_usage",
      periodSeconds: 300,
      aggregate: "max",
    });
    expect(answer.value).toBe(0);
  });

  it("treats NaN as no value but keeps the sample's time", async () => {
    const answer = await answerFor([sample("NaN", {}, 1_700_000_000.5)]);
    expect(answer.value).toBeUndefined();
    expect(answer.evaluationTime).toBe(1_700_000_000_500);
    expect(answer.seriesCount).toBe(1);
  });

  it("picks the series whose label set sorts first, whatever the input order, and counts them all", async () => {
    const series = [
      sample("3", { publisher: "node-c", resource: "uuid-0" }),
      sample("1", { publisher: "node-a", resource: "uuid-0" }),
      sample("2", { publisher: "node-b", resource: "uuid-0" }),
    ];
    const orders = [series, [...series].reverse(), [series[1], series[2], series[0]] as Sample[]];
    for (const order of orders) {
      const answer = await answerFor(order);
      expect(answer.value).toBe(1);
      expect(answer.seriesCount).toBe(3);
    }
  });

  it("orders label sets by sorted label names first, not by the order the labels were given", async () => {
    const a = sample("1", { z: "1", a: "2" });
    const b = sample("2", { a: "1", z: "9" });
    expect((await answerFor([a, b])).value).toBe(2);
    expect((await answerFor([b, a])).value).toBe(2);
  });

  it("compares label sets pair by pair, as Prometheus orders them (a prefix sorts first)", async () => {
    // By (name, value) pairs: {a="1"} < {a0="0"} because name "a" < "a0";
    // {x="a"} < {x="a b"} because the value "a" is a prefix of "a b".
    const shortName = sample("1", { a: "1" });
    const longName = sample("2", { a0: "0" });
    expect((await answerFor([longName, shortName])).value).toBe(1);
    const shortValue = sample("1", { x: "a" });
    const longValue = sample("2", { x: "a b" });
    expect((await answerFor([longValue, shortValue])).value).toBe(1);
  });

  it("takes a series with fewer labels first when the others extend it", async () => {
    const answer = await answerFor([sample("2", { a: "1", b: "2" }), sample("1", { a: "1" })]);
    expect(answer.value).toBe(1);
  });
});

describe("the catalogue in the service", () => {
  const vm = { instanceId: "uuid-0", periodSeconds: 300, aggregate: "mean", vcpus: 1 } as const;

  it("queries the built-in sources of the metrics Watcher's Prometheus datasource lacks", async () => {
    const { datasource, service } = setup();
    datasource.samples = [sample("512")];
    await service.instanceMetric({ ...vm, metric: "instance_ram_allocated" });
    await service.hostMetric({ host: HOST, metric: "host_power", periodSeconds: 600, aggregate: "max" });
    expect(datasource.queries).toEqual([
      "avg_over_time(ceilometer_memory{resource='uuid-0'}[300s])",
      "max_over_time(ceilometer_hardware_ipmi_node_power{fqdn='marios-env.controlplane.domain'}[600s])",
    ]);
  });

  it("names the known metrics of the subject for an unknown name, without a query", async () => {
    const { datasource, service } = setup();
    const err = await failure(service.instanceMetric({ ...vm, metric: "instance_gpu" }));
    expect(err).toMatchObject({ code: "invalid_argument", reason: "UNKNOWN_METRIC", field: "metric" });
    expect(err.message).toBe(
      'metric: unknown instance metric "instance_gpu"; the instance metrics are: instance_cpu_usage, instance_l3_cache_usage, instance_ram_allocated, instance_ram_usage, instance_root_disk_size',
    );
    expect(datasource.queries).toEqual([]);
  });

  it("says which subject a metric of the other subject belongs to", async () => {
    const { service } = setup();
    const err = await failure(service.instanceMetric({ ...vm, metric: "host_power" }));
    expect(err.message).toMatch(
      /^metric: host_power is a host metric, not an instance metric; the instance metrics are: /,
    );
    expect(err.reason).toBe("UNKNOWN_METRIC");
  });

  it("answers no value when the series exist but not for this resource", async () => {
    const { datasource, service } = setup();
    const answer = await service.instanceMetric({ ...vm, metric: "instance_root_disk_size" });
    expect(answer.value).toBeUndefined();
    expect(answer.unit).toBe("GBy");
    expect(datasource.seriesNameLoads).toBe(1);
  });

  it("answers failed_precondition naming the absent series and the option that changes it", async () => {
    const { datasource, service } = setup();
    datasource.names = ["ceilometer_cpu"];
    const err = await failure(
      service.hostMetric({ host: HOST, metric: "host_power", periodSeconds: 300, aggregate: "mean" }),
    );
    expect(err).toMatchObject({ code: "failed_precondition", reason: "SERIES_ABSENT" });
    expect(err.message).toBe(
      "metric host_power reads ceilometer_hardware_ipmi_node_power, which Prometheus does not hold; [metric.host_power] series or template changes its source (docs/metrics.md)",
    );
    const ram = await failure(
      service.hostMetric({ host: HOST, metric: "host_ram_usage", periodSeconds: 300, aggregate: "mean" }),
    );
    expect(ram.message).toContain("node_memory_MemTotal_bytes, node_memory_MemAvailable_bytes");
    expect(ram.message).toContain("[metric.host_ram_usage] template changes");
  });

  it("answers no value, not SERIES_ABSENT, when the backend shows only part of its series", async () => {
    const { datasource, service } = setup();
    datasource.names = undefined;
    const answer = await service.hostMetric({
      host: HOST,
      metric: "host_power",
      periodSeconds: 300,
      aggregate: "mean",
    });
    expect(answer.value).toBeUndefined();
    expect((await service.listMetrics("instance")).map((m) => m.missingSeries)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("reads the series names at most once per interval, and not at all while answers carry data", async () => {
    const { datasource, service } = setup();
    datasource.samples = [sample("1")];
    await service.instanceMetric({ ...vm, metric: "instance_ram_usage" });
    expect(datasource.seriesNameLoads).toBe(0);
    datasource.samples = [];
    await service.instanceMetric({ ...vm, metric: "instance_ram_usage" });
    await service.instanceMetric({ ...vm, metric: "instance_cpu_usage" });
    expect(datasource.seriesNameLoads).toBe(1);
  });

  it("queries an override with its own label and series", async () => {
    const { datasource, service } = setup({
      overrides: [
        {
          name: "instance_ram_usage",
          section: "metric.instance_ram_usage",
          series: "libvirt_domain_memory_usage",
          label: "uuid",
          sources: {},
        },
      ],
    });
    datasource.samples = [sample("1")];
    const answer = await service.instanceMetric({ ...vm, metric: "instance_ram_usage" });
    expect(answer.query).toBe("avg_over_time(libvirt_domain_memory_usage{uuid='uuid-0'}[300s])");
    expect(answer.labelName).toBe("uuid");
  });

  it("lists the metrics of a subject with the label they use and the series the backend lacks", async () => {
    const { datasource, service } = setup();
    datasource.names = ["node_cpu_seconds_total", "node_memory_MemTotal_bytes"];
    const listed = await service.listMetrics("host");
    expect(listed.map((m) => [m.definition.name, m.labelName, m.missingSeries])).toEqual([
      ["host_airflow", "fqdn", ["ceilometer_hardware_ipmi_node_airflow"]],
      ["host_cpu_usage", "fqdn", []],
      ["host_inlet_temp", "fqdn", ["ceilometer_hardware_ipmi_node_temperature"]],
      ["host_outlet_temp", "fqdn", ["ceilometer_hardware_ipmi_node_outlet_temperature"]],
      ["host_power", "fqdn", ["ceilometer_hardware_ipmi_node_power"]],
      ["host_ram_usage", "fqdn", ["node_memory_MemAvailable_bytes"]],
    ]);
    expect(datasource.seriesNameLoads).toBe(1);
  });
});

describe("listHosts paging", () => {
  const values = ["h1.example", "h2.example", "h3.example", "h4.example", "h5.example"];

  it("serves a page of the given size and the value to continue after", async () => {
    const { service } = setup({ hostValues: [...values].reverse() });
    const page = await service.listHosts(2, undefined);
    expect(page.hosts.map((h) => h.labelValue)).toEqual(["h1.example", "h2.example"]);
    expect(page.nextAfter).toBe("h2.example");
  });

  it("walks all hosts exactly once and ends without nextAfter", async () => {
    const { service } = setup({ hostValues: values });
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await service.listHosts(2, after);
      seen.push(...page.hosts.map((h) => h.labelValue));
      after = page.nextAfter;
      if (after === undefined) break;
    }
    expect(seen).toEqual(values);
    expect(after).toBeUndefined();
  });

  it("has no nextAfter when the last page is exactly full", async () => {
    const { service } = setup({ hostValues: values });
    const page = await service.listHosts(5, undefined);
    expect(page.hosts).toHaveLength(5);
    expect(page.nextAfter).toBeUndefined();
    const rest = await service.listHosts(3, "h2.example");
    expect(rest.hosts.map((h) => h.labelValue)).toEqual(["h3.example", "h4.example", "h5.example"]);
    expect(rest.nextAfter).toBeUndefined();
  });

  it("continues after a value that is no longer there", async () => {
    const { service } = setup({ hostValues: values });
    const page = await service.listHosts(2, "h2.zzz");
    expect(page.hosts.map((h) => h.labelValue)).toEqual(["h3.example", "h4.example"]);
    expect(page.nextAfter).toBe("h4.example");
  });

  it("returns an empty last page for a token beyond the end", async () => {
    const { service } = setup({ hostValues: values });
    expect(await service.listHosts(2, "zzz")).toEqual({ hosts: [], nextAfter: undefined });
    expect(await service.listHosts(2, "h5.example")).toEqual({ hosts: [], nextAfter: undefined });
  });

  it("returns an empty page when there are no hosts", async () => {
    const { service } = setup({ hostValues: [] });
    expect(await service.listHosts(10, undefined)).toEqual({ hosts: [], nextAfter: undefined });
  });
});
