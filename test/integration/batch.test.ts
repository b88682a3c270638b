/**
 * GetHostMetrics and GetInstanceMetrics against the real Prometheus and the real Aetos: every item
 * of a batch equals, bit for bit, what Prometheus answers for that resource's single query at the
 * batch's evaluation time (the fleet predicts it exactly, as it does for the single calls), for every
 * metric, aggregate and both label variants; per-item statuses; the query forms (alternation,
 * chunked alternation through Aetos, unfiltered); POST for long queries; coalescing and the cache.
 */
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  Aggregate,
  ItemStatus,
  type MetricValue,
  QueryForm,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { aetosPasswordOptions } from "../support/aetos-harness.js";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { fleetWindow, ODD_HOST, SAMPLE_FLEET } from "../support/fleet.js";
import { expectedCpuPercent, expectedOverTime, expectedValue } from "../support/fleet-expected.js";
import type { PromAggregate } from "../support/fleet-promql.js";
import { startFakePrometheus } from "../support/interop-fake-prometheus.js";
import { WATCHER_HOST_METRICS, WATCHER_INSTANCE_METRICS } from "../support/watcher-metrics.js";

const stack = inject("stack");
const window = fleetWindow(stack.prometheus.startSec);
const PROMETHEUS: Options = {
  "watcher_datasources.datasources": "prometheus",
  "prometheus_client.host": stack.prometheus.host,
  "prometheus_client.port": String(stack.prometheus.port),
};
/** The other label variant: per-metric labels (sg-core's resource for power, libvirt's uuid). */
const OTHER_LABELS: Options = {
  "metric.host_power.label": "resource",
  "metric.instance_cpu_usage.label": "uuid",
  "metric.instance_cpu_usage.template":
    "clamp_max(({{agg}} by ({{label}})(rate(libvirt_domain_info_cpu_time_seconds_total{{{matcher}}}[{{period}}s]))) *(100/{{vcpus}}), 100)",
  "metric.instance_ram_usage.label": "uuid",
  "metric.instance_ram_usage.template":
    "{{agg}}_over_time(libvirt_domain_info_memory_usage_bytes{{{matcher}}}[{{period}}s]) / 1048576",
};
const HOST_METRICS = [...WATCHER_HOST_METRICS];
const INSTANCE_METRICS = [...WATCHER_INSTANCE_METRICS];
const HOSTS = SAMPLE_FLEET.hosts.map((h) => h.fqdn);
const INSTANCES = SAMPLE_FLEET.vms.map((vm) => ({ instanceId: vm.uuid, vcpus: vm.vcpus }));
const AGGREGATES: [Aggregate, PromAggregate][] = [
  [Aggregate.MEAN, "avg"],
  [Aggregate.MAX, "max"],
  [Aggregate.MIN, "min"],
  [Aggregate.COUNT, "avg"],
];
const IPMI_SERIES: Record<string, string> = {
  host_outlet_temp: "ceilometer_hardware_ipmi_node_outlet_temperature",
  host_inlet_temp: "ceilometer_hardware_ipmi_node_temperature",
  host_airflow: "ceilometer_hardware_ipmi_node_airflow",
  host_power: "ceilometer_hardware_ipmi_node_power",
};
const INSTANCE_SERIES: Record<string, string> = {
  instance_ram_allocated: "ceilometer_memory",
  instance_l3_cache_usage: "ceilometer_cpu_l3_cache",
  instance_root_disk_size: "ceilometer_disk_root_size",
};

/** Through Aetos, with a URL limit low enough that every alternation is split into chunks. */
const AETOS: Options = aetosPasswordOptions(stack.keystoneUrl, stack.watcher, {
  "aetos_client.region_name": "RegionOne",
  "aetos_client.max_url_length": "256",
});

let direct: TestApp;
let otherLabels: TestApp;
let aetosDefault: TestApp;
let aetosOther: TestApp;

beforeAll(async () => {
  [direct, otherLabels] = await Promise.all([
    startTestApp(PROMETHEUS),
    startTestApp({ ...PROMETHEUS, ...OTHER_LABELS }),
  ]);
  // One after the other: twice in the full suite, one of two authentications sent to the shared
  // Keystone at the same moment went unanswered for 30 s (cause not yet known; see the notes).
  aetosDefault = await startTestApp(AETOS);
  aetosOther = await startTestApp({ ...AETOS, ...OTHER_LABELS });
});
afterAll(async () => {
  await Promise.all([direct?.stop(), otherLabels?.stop(), aetosDefault?.stop(), aetosOther?.stop()]);
});

function evalSeconds(result: MetricValue | undefined): number {
  const time: Timestamp | undefined = result?.evaluationTime;
  if (!time) throw new Error("no evaluation_time");
  return timestampMs(time) / 1000;
}

/** What Prometheus answers for the single query of one resource at `evalSec`; undefined for no data. */
function expected(
  metric: string,
  resource: string,
  agg: PromAggregate,
  periodSec: number,
  evalSec: number,
  variant: "default" | "other",
  vcpus = 1,
): number | undefined {
  const inverted: PromAggregate = agg === "max" ? "min" : agg === "min" ? "max" : agg;
  let value: number | undefined;
  if (metric === "host_cpu_usage" || metric === "host_ram_usage") {
    value = expectedValue(
      SAMPLE_FLEET,
      window,
      { metric, host: resource, aggregate: inverted, periodSec },
      evalSec,
    );
  } else if (metric in IPMI_SERIES) {
    const label = variant === "other" && metric === "host_power" ? "resource" : "fqdn";
    const series = IPMI_SERIES[metric] ?? "";
    value = expectedOverTime(
      SAMPLE_FLEET,
      window,
      { series, matchers: { [label]: resource }, aggregate: agg, periodSec },
      evalSec,
    );
  } else if (metric === "instance_cpu_usage") {
    value =
      variant === "default"
        ? expectedValue(
            SAMPLE_FLEET,
            window,
            { metric, uuid: resource, aggregate: agg, periodSec, vcpus },
            evalSec,
          )
        : expectedCpuPercent(
            SAMPLE_FLEET,
            window,
            {
              series: "libvirt_domain_info_cpu_time_seconds_total",
              matchers: { uuid: resource },
              aggregate: agg,
              periodSec,
              vcpus,
              divisor: 1,
            },
            evalSec,
          );
  } else if (metric === "instance_ram_usage") {
    value =
      variant === "default"
        ? expectedValue(SAMPLE_FLEET, window, { metric, uuid: resource, aggregate: agg, periodSec }, evalSec)
        : expectedOverTime(
            SAMPLE_FLEET,
            window,
            {
              series: "libvirt_domain_info_memory_usage_bytes",
              matchers: { uuid: resource },
              aggregate: agg,
              periodSec,
              divisor: 1_048_576,
            },
            evalSec,
          );
  } else {
    const series = INSTANCE_SERIES[metric] ?? "";
    value = expectedOverTime(
      SAMPLE_FLEET,
      window,
      { series, matchers: { resource }, aggregate: agg, periodSec },
      evalSec,
    );
  }
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

describe.each([
  ["default labels", "Prometheus", "default"],
  ["per-metric labels", "Prometheus", "other"],
  ["default labels", "Aetos", "default"],
  ["per-metric labels", "Aetos", "other"],
] as const)("batches with %s through %s equal the single queries bit for bit", (_name, backend, variant) => {
  const app = () =>
    backend === "Prometheus"
      ? variant === "default"
        ? direct
        : otherLabels
      : variant === "default"
        ? aetosDefault
        : aetosOther;

  for (const [aggregate, agg] of AGGREGATES) {
    for (const period of [300, 600]) {
      it(`every host metric of every host, ${Aggregate[aggregate]}, ${period} s`, async () => {
        const res = await app().client.getHostMetrics({
          hosts: HOSTS,
          metrics: HOST_METRICS,
          aggregate,
          period: { seconds: BigInt(period) },
        });
        expect(res.items).toHaveLength(HOSTS.length * HOST_METRICS.length);
        let withValue = 0;
        res.items.forEach((item, i) => {
          const host = HOSTS[Math.floor(i / HOST_METRICS.length)] ?? "";
          const metric = HOST_METRICS[i % HOST_METRICS.length] ?? "";
          expect(item.host).toBe(host);
          expect(item.result?.metric).toBe(metric);
          const want = expected(metric, host, agg, period, evalSeconds(item.result), variant);
          expect(item.result?.value, `${metric} of ${host}`).toBe(want);
          expect(item.status).toBe(want === undefined ? ItemStatus.NO_DATA : ItemStatus.OK);
          if (want !== undefined) withValue++;
        });
        expect(withValue).toBeGreaterThanOrEqual(HOSTS.length * 2 + 9);
      });

      it(`every instance metric of every instance, ${Aggregate[aggregate]}, ${period} s`, async () => {
        const res = await app().client.getInstanceMetrics({
          instances: INSTANCES,
          metrics: INSTANCE_METRICS,
          aggregate,
          period: { seconds: BigInt(period) },
        });
        expect(res.items).toHaveLength(INSTANCES.length * INSTANCE_METRICS.length);
        // Through Aetos the URL limit splits the alternations: the chunks must give the same numbers.
        const chunked = res.queries.some((q) => q.form === QueryForm.ALTERNATION_CHUNK);
        expect(chunked).toBe(backend === "Aetos");
        res.items.forEach((item, i) => {
          const vm = INSTANCES[Math.floor(i / INSTANCE_METRICS.length)];
          const metric = INSTANCE_METRICS[i % INSTANCE_METRICS.length] ?? "";
          expect(item.instanceId).toBe(vm?.instanceId);
          const want = expected(
            metric,
            vm?.instanceId ?? "",
            agg,
            period,
            evalSeconds(item.result),
            variant,
            vm?.vcpus,
          );
          expect(item.result?.value, `${metric} of ${vm?.instanceId}`).toBe(want);
        });
      });
    }
  }
});

describe("GetHostMetrics", () => {
  it("gives unknown and ambiguous hosts a status of their own, and resolves short names", async () => {
    const res = await direct.client.getHostMetrics({
      hosts: ["compute-1", "ghost.example", "twin", "compute-3.example"],
      metrics: ["host_power"],
    });
    expect(res.items.map((i) => [i.host, i.status, i.result?.labelValue ?? ""])).toEqual([
      ["compute-1", ItemStatus.OK, "compute-1.example"],
      ["ghost.example", ItemStatus.HOST_NOT_FOUND, ""],
      ["twin", ItemStatus.HOST_AMBIGUOUS, ""],
      ["compute-3.example", ItemStatus.NO_DATA, "compute-3.example"],
    ]);
    expect(res.items[1]?.message).toContain('"ghost.example" is not carried by the fqdn label');
    expect(res.items[2]?.message).toContain('"twin.a.example", "twin.b.example"');
  });

  it("sends one alternation per metric for a few hosts, and says so", async () => {
    const res = await direct.client.getHostMetrics({
      hosts: ["compute-1.example", ODD_HOST],
      metrics: ["host_cpu_usage", "host_ram_usage"],
    });
    expect(res.queries.map((q) => [q.metric, q.form, q.resourceCount])).toEqual([
      ["host_cpu_usage", QueryForm.ALTERNATION, 2],
      ["host_ram_usage", QueryForm.ALTERNATION, 2],
    ]);
    expect(res.queries[0]?.query).toBe(
      `100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn=~'compute-1\\\\.example|odd\\'host"x\\\\\\\\y\\\\.example'}[300s])) * 100)`,
    );
    expect(res.items.every((i) => i.result?.query === "")).toBe(true);
  });

  it("reads every host unfiltered for all_hosts, in label order", async () => {
    const res = await direct.client.getHostMetrics({ allHosts: true, metrics: ["host_cpu_usage"] });
    expect(res.queries).toHaveLength(1);
    expect(res.queries[0]?.form).toBe(QueryForm.UNFILTERED);
    expect(res.queries[0]?.query).toContain("fqdn!=''");
    const hosts = res.items.map((i) => i.host);
    expect(hosts).toEqual([...hosts].sort());
    expect(hosts).toEqual(expect.arrayContaining(HOSTS));
  });

  it("refuses a batch without metrics, or with hosts and all_hosts, naming the field", async () => {
    const none = await callError(direct.client.getHostMetrics({ hosts: ["compute-1.example"] }));
    expect([none.code, none.rawMessage]).toEqual([
      Code.InvalidArgument,
      "metrics: at least one metric is required",
    ]);
    const both = await callError(
      direct.client.getHostMetrics({ hosts: ["a"], allHosts: true, metrics: ["host_cpu_usage"] }),
    );
    expect(both.rawMessage).toBe("hosts: must be empty when all_hosts is set");
    const unknown = await callError(
      direct.client.getHostMetrics({
        hosts: ["compute-1.example"],
        metrics: ["host_cpu_usage", "instance_cpu_usage"],
      }),
    );
    expect(unknown.metadata.get("x-error-reason")).toBe("UNKNOWN_METRIC");
  });

  it("refuses more than 20,000 items, naming the limit", async () => {
    const hosts = Array.from({ length: 10_001 }, (_, i) => `h${i}.example`);
    const err = await callError(
      direct.client.getHostMetrics({ hosts, metrics: ["host_cpu_usage", "host_power"] }),
    );
    expect(err.rawMessage).toBe(
      "hosts: 10001 resources × 2 metrics is more than 20000 items in one call; split it",
    );
  });
});

describe("GetInstanceMetrics", () => {
  it("runs the instance CPU template once per vCPU count, so each instance gets its own arithmetic", async () => {
    const res = await direct.client.getInstanceMetrics({
      instances: [
        { instanceId: INSTANCES[0]?.instanceId ?? "", vcpus: 1 },
        { instanceId: INSTANCES[2]?.instanceId ?? "", vcpus: 2 },
        { instanceId: INSTANCES[3]?.instanceId ?? "", vcpus: 0 },
      ],
      metrics: ["instance_cpu_usage"],
    });
    expect(res.queries.map((q) => [q.query.match(/\(100\/(\d+)\)/)?.[1], q.resourceCount])).toEqual([
      ["1", 2],
      ["2", 1],
    ]);
    expect(res.items.map((i) => i.result?.value)).toEqual([25, 75, 0]);
  });

  it("answers an unknown instance with NO_DATA", async () => {
    const res = await direct.client.getInstanceMetrics({
      instances: [{ instanceId: "99999999-9999-4999-8999-999999999999", vcpus: 1 }],
      metrics: ["instance_ram_usage"],
    });
    expect(res.items.map((i) => i.status)).toEqual([ItemStatus.NO_DATA]);
  });
});

describe("through the real Aetos", () => {
  const aetos = () => aetosDefault;

  it("splits a long alternation into GET requests under max_url_length (256 here), with the same numbers", async () => {
    const res = await aetos().client.getInstanceMetrics({
      instances: INSTANCES.flatMap((vm) =>
        Array.from({ length: 10 }, (_, i) => ({
          ...vm,
          instanceId: i === 0 ? vm.instanceId : `${vm.instanceId.slice(0, -2)}${String(i).padStart(2, "0")}`,
        })),
      ),
      metrics: ["instance_ram_usage"],
    });
    expect(res.queries.length).toBeGreaterThan(1);
    expect(res.queries.every((q) => q.form === QueryForm.ALTERNATION_CHUNK)).toBe(true);
    expect(res.queries.reduce((n, q) => n + q.resourceCount, 0)).toBe(40);
    for (const q of res.queries) {
      const requestLine = `GET /prometheus/api/v1/query?${new URLSearchParams({ query: q.query })}&time=0000000000.000 HTTP/1.1`;
      expect(requestLine.length).toBeLessThanOrEqual(256);
    }
    for (const vm of INSTANCES) {
      const item = res.items.find((i) => i.instanceId === vm.instanceId);
      expect(item?.result?.value).toBe(
        expected("instance_ram_usage", vm.instanceId, "avg", 300, evalSeconds(item?.result), "default"),
      );
    }
  });

  it("answers every host unfiltered with the numbers of direct Prometheus", async () => {
    const res = await aetos().client.getHostMetrics({
      allHosts: true,
      metrics: ["host_ram_usage"],
      aggregate: Aggregate.MAX,
    });
    expect(res.queries.map((q) => q.form)).toEqual([QueryForm.UNFILTERED]);
    for (const host of HOSTS) {
      const item = res.items.find((i) => i.host === host);
      expect(item?.result?.value).toBe(
        expected("host_ram_usage", host, "max", 300, evalSeconds(item?.result), "default"),
      );
    }
  });
});

describe("shared queries", () => {
  it("POSTs a long batch query to Prometheus and GETs a short one, as Watcher does", async () => {
    const fake = await startFakePrometheus({
      query: { kind: "slow", delayMs: 0, value: "1" },
      hosts: Array.from({ length: 400 }, (_, i) => `compute-${i}.example`),
    });
    const app = await startTestApp({
      "prometheus_client.host": fake.host,
      "prometheus_client.port": String(fake.port),
    });
    try {
      await app.client.getHostMetric({ host: "compute-1.example", metric: "host_cpu_usage" });
      const hosts = Array.from({ length: 150 }, (_, i) => `compute-${i}.example`);
      await app.client.getHostMetrics({ hosts, metrics: ["host_cpu_usage"] });
      expect(fake.queries.map((q) => q.method)).toEqual(["GET", "POST"]);
      expect(fake.queries[1]?.promql).toContain("fqdn=~'compute-0\\\\.example|compute-1\\\\.example|");
    } finally {
      await app.stop();
      await fake.stop();
    }
  });

  it("sends identical queries in flight at the same moment once", async () => {
    const fake = await startFakePrometheus({ query: { kind: "slow", delayMs: 300, value: "7" } });
    const app = await startTestApp({
      "prometheus_client.host": fake.host,
      "prometheus_client.port": String(fake.port),
    });
    try {
      const ask = { host: "compute-1.example", metric: "host_cpu_usage" };
      const answers = await Promise.all(Array.from({ length: 10 }, () => app.client.getHostMetric(ask)));
      expect(answers.map((a) => a.result?.value)).toEqual(Array(10).fill(7));
      expect(fake.queries).toHaveLength(1);
    } finally {
      await app.stop();
      await fake.stop();
    }
  });

  it("serves an answer again from the cache, and asks Prometheus at a time aligned to the TTL", async () => {
    const fake = await startFakePrometheus({ query: { kind: "slow", delayMs: 0, value: "5" } });
    const cached = await startTestApp({
      "prometheus_client.host": fake.host,
      "prometheus_client.port": String(fake.port),
      "metrics_access.query_cache_ttl": "60",
    });
    try {
      const ask = { host: "compute-1.example", metric: "host_cpu_usage" };
      const first = await cached.client.getHostMetric(ask);
      const second = await cached.client.getHostMetric(ask);
      // Across a minute boundary the second call falls into the next step and asks again.
      const times = fake.queries.map((q) => Number(q.time));
      expect(times.every((t) => t % 60 === 0)).toBe(true);
      expect(fake.queries).toHaveLength(new Set(times).size);
      expect(fake.queries.length).toBeLessThanOrEqual(2);
      expect([first.result?.value, second.result?.value]).toEqual([5, 5]);
    } finally {
      await cached.stop();
      await fake.stop();
    }
  });

  it("gives the real Prometheus's answer for the aligned time from the cache", async () => {
    const cached = await startTestApp({ ...PROMETHEUS, "metrics_access.query_cache_ttl": "60" });
    try {
      const ask = {
        host: "compute-2.example",
        metric: "host_power",
        aggregate: Aggregate.MIN,
        period: { seconds: 600n },
      };
      const first = await cached.client.getHostMetric(ask);
      const second = await cached.client.getHostMetric(ask);
      expect(evalSeconds(first.result) % 60).toBe(0);
      expect(first.result?.value).toBe(410);
      if (evalSeconds(first.result) === evalSeconds(second.result))
        expect(second.result).toEqual(first.result);
    } finally {
      await cached.stop();
    }
  });
});
