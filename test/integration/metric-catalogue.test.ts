/**
 * The metric catalogue against the real Prometheus (and the real Aetos for ListMetrics): every one of
 * Watcher's eleven metrics answers from series backfilled with the names and labels their exporters
 * publish, an override switches instance CPU and RAM to the libvirt exporter's series with the same
 * numbers, a custom label and a template using every placeholder work, an absent series is
 * FAILED_PRECONDITION naming it, ListMetrics tells what a Prometheus can serve, and each invalid
 * catalogue stops the real entry point with exit code 2.
 */
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  Aggregate,
  Availability,
  MetricOrigin,
  type MetricValue,
  Subject,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { aetosPasswordOptions } from "../support/aetos-harness.js";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { fleetWindow, ODD_HOST, SAMPLE_FLEET } from "../support/fleet.js";
import { expectedCpuPercent, expectedOverTime } from "../support/fleet-expected.js";
import type { PromAggregate } from "../support/fleet-promql.js";
import { iniText, runMain } from "../support/interop-process.js";

const stack = inject("stack");
const window = fleetWindow(stack.prometheus.startSec);
const uuidOf = (name: string): string => SAMPLE_FLEET.vms.find((v) => v.name === name)?.uuid ?? "";
const VM = { a: uuidOf("vm-a"), b: uuidOf("vm-b"), c: uuidOf("vm-c"), d: uuidOf("vm-d") };
const PROMETHEUS: Options = {
  "watcher_datasources.datasources": "prometheus",
  "prometheus_client.host": stack.prometheus.host,
  "prometheus_client.port": String(stack.prometheus.port),
};
/** Debian's prometheus-libvirt-exporter 0.2.0 in place of Ceilometer for instance CPU and RAM. */
const LIBVIRT: Options = {
  "metric.instance_cpu_usage.template":
    "clamp_max(({{agg}} by ({{label}})(rate(libvirt_domain_info_cpu_time_seconds_total{{{matcher}}}[{{period}}s]))) *(100/{{vcpus}}), 100)",
  "metric.instance_cpu_usage.label": "uuid",
  "metric.instance_ram_usage.template":
    "{{agg}}_over_time(libvirt_domain_info_memory_usage_bytes{{{matcher}}}[{{period}}s]) / 1048576",
  "metric.instance_ram_usage.label": "uuid",
};
const AGGREGATES: [Aggregate, PromAggregate][] = [
  [Aggregate.MEAN, "avg"],
  [Aggregate.MAX, "max"],
  [Aggregate.MIN, "min"],
];
const PERIODS = [300, 600];

let direct: TestApp;
let libvirt: TestApp;

beforeAll(async () => {
  [direct, libvirt] = await Promise.all([
    startTestApp(PROMETHEUS),
    startTestApp({
      ...PROMETHEUS,
      ...LIBVIRT,
      "metric.host_power.label": "resource",
      "metric.instance_cpu_busy.subject": "instance",
      "metric.instance_cpu_busy.unit": "%",
      "metric.instance_cpu_busy.description": "mean CPU of the instance's vCPUs, every placeholder used",
      "metric.instance_cpu_busy.template":
        "{{agg}} by ({{label}}) (rate(ceilometer_cpu{{{matcher}}}[{{period}}s])) / 10e+8 * 100 / {{vcpus}}",
      "metric.host_ipmi_power.subject": "host",
      "metric.host_ipmi_power.unit": "W",
      "metric.host_ipmi_power.template":
        "{{agg}} by ({{label}}) ({{agg}}_over_time(ipmi_dcmi_power_consumption_watts{{{matcher}}}[{{period}}s]))",
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([direct?.stop(), libvirt?.stop()]);
});

function evalSeconds(result: MetricValue | undefined): number {
  const time: Timestamp | undefined = result?.evaluationTime;
  if (!time) throw new Error("no evaluation_time in the answer");
  return timestampMs(time) / 1000;
}

function expectClose(actual: number | undefined, expected: number | undefined): void {
  expect(expected).toBeDefined();
  expect(actual).toBeDefined();
  const a = actual ?? Number.NaN;
  const e = expected ?? Number.NaN;
  expect(Math.abs(a - e)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e)));
}

describe("Watcher's metrics that its Prometheus datasource lacks, from their default sources", () => {
  const hostMetrics = [
    ["host_power", "ceilometer_hardware_ipmi_node_power", "W"],
    ["host_inlet_temp", "ceilometer_hardware_ipmi_node_temperature", "Cel"],
    ["host_outlet_temp", "ceilometer_hardware_ipmi_node_outlet_temperature", "Cel"],
    ["host_airflow", "ceilometer_hardware_ipmi_node_airflow", "[cft_i]/min"],
  ] as const;
  for (const [metric, series, unit] of hostMetrics) {
    for (const host of ["compute-1.example", "compute-2.example", ODD_HOST]) {
      it(`${metric} of ${host}: every aggregate, two periods`, async () => {
        for (const [aggregate, agg] of AGGREGATES) {
          for (const period of PERIODS) {
            const { result } = await direct.client.getHostMetric({
              host,
              metric,
              aggregate,
              period: { seconds: BigInt(period) },
            });
            expect(result).toMatchObject({
              metric,
              unit,
              labelName: "fqdn",
              labelValue: host,
              seriesCount: 1,
            });
            expect(result?.query).toContain(`${agg}_over_time(${series}{fqdn=`);
            const expected = expectedOverTime(
              SAMPLE_FLEET,
              window,
              { series, matchers: { fqdn: host }, aggregate: agg, periodSec: period },
              evalSeconds(result),
            );
            expect(result?.value).toBe(expected);
          }
        }
      });
    }
  }

  it("answers a host without IPMI readings with no value, because the series exist", async () => {
    const { result } = await direct.client.getHostMetric({ host: "compute-3.example", metric: "host_power" });
    expect(result?.value).toBeUndefined();
    expect(result?.seriesCount).toBe(0);
  });

  const instanceMetrics = [
    ["instance_ram_allocated", "ceilometer_memory", "MBy"],
    ["instance_root_disk_size", "ceilometer_disk_root_size", "GBy"],
    ["instance_l3_cache_usage", "ceilometer_cpu_l3_cache", "By"],
  ] as const;
  for (const [metric, series, unit] of instanceMetrics) {
    for (const uuid of [VM.a, VM.b, VM.c]) {
      it(`${metric} of ${uuid}: every aggregate, two periods`, async () => {
        for (const [aggregate, agg] of AGGREGATES) {
          for (const period of PERIODS) {
            const { result } = await direct.client.getInstanceMetric({
              instanceId: uuid,
              metric,
              aggregate,
              period: { seconds: BigInt(period) },
            });
            expect(result).toMatchObject({ metric, unit, labelName: "resource", labelValue: uuid });
            expect(result?.query).toBe(`${agg}_over_time(${series}{resource='${uuid}'}[${period}s])`);
            const expected = expectedOverTime(
              SAMPLE_FLEET,
              window,
              { series, matchers: { resource: uuid }, aggregate: agg, periodSec: period },
              evalSeconds(result),
            );
            expect(result?.value).toBe(expected);
          }
        }
      });
    }
  }

  it("keeps a boot-from-volume root disk of 0 GB as 0, and an instance without L3 readings as no value", async () => {
    const disk = await direct.client.getInstanceMetric({
      instanceId: VM.d,
      metric: "instance_root_disk_size",
    });
    expect(disk.result?.value).toBe(0);
    const l3 = await direct.client.getInstanceMetric({ instanceId: VM.d, metric: "instance_l3_cache_usage" });
    expect(l3.result?.value).toBeUndefined();
  });
});

describe("an override to the libvirt exporter's series", () => {
  for (const uuid of [VM.a, VM.c, VM.d]) {
    const vcpus = SAMPLE_FLEET.vms.find((v) => v.uuid === uuid)?.vcpus ?? 1;
    it(`gives instance CPU and RAM of ${uuid} the numbers Ceilometer's series give`, async () => {
      for (const [aggregate, agg] of AGGREGATES) {
        for (const period of PERIODS) {
          const ask = { instanceId: uuid, aggregate, vcpus, period: { seconds: BigInt(period) } };
          const cpu = await libvirt.client.getInstanceMetric({ ...ask, metric: "instance_cpu_usage" });
          const ceilometerCpu = await direct.client.getInstanceMetric({
            ...ask,
            metric: "instance_cpu_usage",
          });
          expect(cpu.result).toMatchObject({ labelName: "uuid", unit: "%" });
          expect(cpu.result?.query).toContain(
            `rate(libvirt_domain_info_cpu_time_seconds_total{uuid='${uuid}'}`,
          );
          const query = { matchers: {}, aggregate: agg, periodSec: period, vcpus };
          expectClose(
            cpu.result?.value,
            expectedCpuPercent(
              SAMPLE_FLEET,
              window,
              {
                ...query,
                series: "libvirt_domain_info_cpu_time_seconds_total",
                matchers: { uuid },
                divisor: 1,
              },
              evalSeconds(cpu.result),
            ),
          );
          expectClose(cpu.result?.value, ceilometerCpu.result?.value);

          const ram = await libvirt.client.getInstanceMetric({ ...ask, metric: "instance_ram_usage" });
          const ceilometerRam = await direct.client.getInstanceMetric({
            ...ask,
            metric: "instance_ram_usage",
          });
          expect(ram.result).toMatchObject({ labelName: "uuid", unit: "MBy" });
          expect(ram.result?.value).toBe(ceilometerRam.result?.value);
          const expectedRam = expectedOverTime(
            SAMPLE_FLEET,
            window,
            {
              series: "libvirt_domain_info_memory_usage_bytes",
              matchers: { uuid },
              aggregate: agg,
              periodSec: period,
              divisor: 1_048_576,
            },
            evalSeconds(ram.result),
          );
          // NaN (vm-d's memory) is "no data": no value, from either source.
          expect(ram.result?.value).toBe(Number.isNaN(expectedRam) ? undefined : expectedRam);
        }
      }
    });
  }
});

describe("overrides and added metrics", () => {
  it("selects host power by a custom label (sg-core's resource) with the same numbers", async () => {
    const ask = { host: "compute-1.example", metric: "host_power", aggregate: Aggregate.MAX };
    const byResource = await libvirt.client.getHostMetric(ask);
    const byFqdn = await direct.client.getHostMetric(ask);
    expect(byResource.result?.labelName).toBe("resource");
    expect(byResource.result?.query).toBe(
      "max_over_time(ceilometer_hardware_ipmi_node_power{resource='compute-1.example'}[300s])",
    );
    expect(byResource.result?.value).toBe(272);
    expect(byResource.result?.value).toBe(byFqdn.result?.value);
  });

  it("answers a configured metric whose template uses every placeholder", async () => {
    const { result } = await libvirt.client.getInstanceMetric({
      instanceId: VM.b,
      metric: "instance_cpu_busy",
      aggregate: Aggregate.MAX,
      vcpus: 2,
      period: { seconds: 600n },
    });
    expect(result?.query).toBe(
      `max by (resource) (rate(ceilometer_cpu{resource='${VM.b}'}[600s])) / 10e+8 * 100 / 2`,
    );
    expect(result?.unit).toBe("%");
    expectClose(result?.value, 75);
  });

  it("answers FAILED_PRECONDITION naming an absent series and the option that changes it", async () => {
    const err = await callError(
      libvirt.client.getHostMetric({ host: "compute-1.example", metric: "host_ipmi_power" }),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe(
      "metric host_ipmi_power reads ipmi_dcmi_power_consumption_watts, which Prometheus does not hold; [metric.host_ipmi_power] template changes its source (docs/metrics.md)",
    );
    expect(err.metadata.get("x-error-reason")).toBe("SERIES_ABSENT");
  });

  it("answers INVALID_ARGUMENT listing the known names of the subject for an unknown metric", async () => {
    const err = await callError(
      libvirt.client.getHostMetric({ host: "compute-1.example", metric: "host_gpu" }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(
      'metric: unknown host metric "host_gpu"; the host metrics are: host_airflow, host_cpu_usage, host_inlet_temp, host_ipmi_power, host_outlet_temp, host_power, host_ram_usage',
    );
  });
});

describe("ListMetrics", () => {
  it("says that this Prometheus can serve all eleven of Watcher's metrics", async () => {
    const { metrics } = await direct.client.listMetrics({});
    expect(metrics.map((m) => m.name)).toEqual([
      "host_airflow",
      "host_cpu_usage",
      "host_inlet_temp",
      "host_outlet_temp",
      "host_power",
      "host_ram_usage",
      "instance_cpu_usage",
      "instance_l3_cache_usage",
      "instance_ram_allocated",
      "instance_ram_usage",
      "instance_root_disk_size",
    ]);
    for (const m of metrics) {
      expect(m.availability, m.name).toBe(Availability.AVAILABLE);
      expect(m.missingSeries).toEqual([]);
      expect(m.origin).toBe(MetricOrigin.BUILT_IN);
      expect(m.configSection).toBe(`metric.${m.name}`);
    }
    expect(metrics.find((m) => m.name === "host_cpu_usage")).toMatchObject({
      subject: Subject.HOST,
      unit: "%",
      labelName: "fqdn",
      series: ["node_cpu_seconds_total"],
      invertsMinMax: true,
      template:
        "100 - ({{agg}} by ({{label}})(rate(node_cpu_seconds_total{mode='idle',{{matcher}}}[{{period}}s])) * 100)",
    });
  });

  it("tells overridden, added and unservable metrics apart, one subject at a time", async () => {
    const { metrics } = await libvirt.client.listMetrics({ subject: Subject.HOST });
    expect(metrics.every((m) => m.subject === Subject.HOST)).toBe(true);
    expect(metrics.find((m) => m.name === "host_ipmi_power")).toMatchObject({
      origin: MetricOrigin.CONFIGURED,
      availability: Availability.SERIES_ABSENT,
      missingSeries: ["ipmi_dcmi_power_consumption_watts"],
    });
    expect(metrics.find((m) => m.name === "host_power")).toMatchObject({
      origin: MetricOrigin.OVERRIDDEN,
      labelName: "resource",
      availability: Availability.AVAILABLE,
    });
    const instances = await libvirt.client.listMetrics({ subject: Subject.INSTANCE });
    expect(instances.metrics.find((m) => m.name === "instance_cpu_usage")).toMatchObject({
      origin: MetricOrigin.OVERRIDDEN,
      series: ["libvirt_domain_info_cpu_time_seconds_total"],
      labelName: "uuid",
      availability: Availability.AVAILABLE,
    });
  });

  it("works through Aetos as it does directly", async () => {
    const viaAetos = await startTestApp(
      aetosPasswordOptions(stack.keystoneUrl, stack.watcher, {
        "aetos_client.region_name": "RegionOne",
        "metric.host_airflow.series": "ipmi_sensor_value",
      }),
    );
    try {
      const { metrics } = await viaAetos.client.listMetrics({});
      expect(metrics).toHaveLength(11);
      const absent = metrics.filter((m) => m.availability !== Availability.AVAILABLE);
      expect(absent.map((m) => [m.name, m.missingSeries])).toEqual([["host_airflow", ["ipmi_sensor_value"]]]);
      const { result } = await viaAetos.client.getInstanceMetric({
        instanceId: VM.a,
        metric: "instance_ram_allocated",
      });
      expect(result?.value).toBe(2048);
      const err = await callError(
        viaAetos.client.getHostMetric({ host: "compute-1.example", metric: "host_airflow" }),
      );
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toContain("which Aetos does not hold");
    } finally {
      await viaAetos.stop();
    }
  });

  it("says UNKNOWN through Aetos when the token sees one project's series only", async () => {
    const reader = await startTestApp(
      aetosPasswordOptions(stack.keystoneUrl, stack.readerA, { "aetos_client.region_name": "RegionOne" }),
    );
    try {
      const { metrics } = await reader.client.listMetrics({ subject: Subject.INSTANCE });
      expect(metrics.map((m) => [m.availability, m.missingSeries])).toEqual(
        metrics.map(() => [Availability.UNKNOWN, []]),
      );
      const { result } = await reader.client.getInstanceMetric({
        instanceId: VM.a,
        metric: "instance_root_disk_size",
      });
      expect(result?.value).toBeUndefined();
    } finally {
      await reader.stop();
    }
  });
});

describe("an invalid catalogue at start-up", () => {
  const base = iniText(PROMETHEUS);
  it.each([
    [
      "an unknown placeholder",
      "[metric.host_power]\ntemplate = x{{{matcher}}} * {{scale}}\n",
      "[metric.host_power] template: unknown placeholder {{scale}}",
    ],
    [
      "PromQL that does not parse",
      "[metric.host_power]\ntemplate = sum(x{{{matcher}}}\n",
      "[metric.host_power] template: does not parse as PromQL",
    ],
    [
      "a missing unit and subject",
      "[metric.gpu_power]\ntemplate = x{{{matcher}}}\n",
      "[metric.gpu_power] unit: required",
    ],
    [
      "a name clash with a built-in of the other subject",
      "[metric.host_power]\nsubject = instance\n",
      "[metric.host_power] subject: host_power is a built-in host metric",
    ],
    [
      "a series for a metric that reads two",
      "[metric.host_ram_usage]\nseries = x\n",
      "[metric.host_ram_usage] series: host_ram_usage reads several series",
    ],
  ])("exits 2 for %s, naming the metric and the option", async (_what, section, problem) => {
    const result = await runMain({ "watcher.conf": `${base}\n${section}` });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(problem);
    expect(result.stdout).toBe("");
  });

  it("reports every problem of several sections in one start", async () => {
    const result = await runMain({
      "watcher.conf": `${base}\n[metric.a_one]\nsubject = host\n\n[metric.host_power]\ntemplate = x\n`,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("[metric.a_one] template: required");
    expect(result.stderr).toContain("[metric.a_one] unit: required");
    expect(result.stderr).toContain(
      "[metric.host_power] template: must select the resource with {{matcher}}",
    );
  });
});
