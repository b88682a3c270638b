import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Aggregate } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { fleetWindow, ODD_HOST, SAMPLE_FLEET } from "../support/fleet.js";
import { expectedValue } from "../support/fleet-expected.js";
import type { PromAggregate } from "../support/fleet-promql.js";

const stack = inject("stack");
const window = fleetWindow(stack.prometheus.startSec);
const VM = {
  a: "11111111-1111-4111-8111-111111111111",
  b: "22222222-2222-4222-8222-222222222222",
  c: "33333333-3333-4333-8333-333333333333",
  d: "44444444-4444-4444-8444-444444444444",
};
const AGGREGATES: [Aggregate, PromAggregate, PromAggregate][] = [
  // request aggregate, PromQL run for host metrics (Watcher's inversion), for instance metrics
  [Aggregate.MEAN, "avg", "avg"],
  [Aggregate.MAX, "min", "max"],
  [Aggregate.MIN, "max", "min"],
  [Aggregate.COUNT, "avg", "avg"],
];
const PERIODS = [300, 600];

let service: TestApp;

beforeAll(async () => {
  service = await startTestApp({
    "watcher_datasources.datasources": "gnocchi,prometheus",
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
  });
});
afterAll(async () => {
  await service?.stop();
});

/** The evaluation time the service reports, in seconds: the fleet's expected values depend on it. */
function evalSeconds(res: { result?: { evaluationTime?: Timestamp | undefined } | undefined }): number {
  const evaluationTime = res.result?.evaluationTime;
  if (!evaluationTime) throw new Error("no evaluation_time in the answer");
  return timestampMs(evaluationTime) / 1000;
}

function expectClose(actual: number | undefined, expected: number | undefined): void {
  expect(expected).toBeDefined();
  expect(actual).toBeDefined();
  expect(actual ?? Number.NaN).toBeCloseTo(expected ?? Number.NaN, 6);
}

describe("host metrics through direct Prometheus", () => {
  for (const host of ["compute-1.example", "compute-2.example", ODD_HOST]) {
    for (const [aggregate, hostAgg] of AGGREGATES) {
      for (const period of PERIODS) {
        it(`host_cpu_usage and host_ram_usage of ${host}, ${Aggregate[aggregate]}, ${period} s`, async () => {
          for (const metric of ["host_cpu_usage", "host_ram_usage"] as const) {
            const res = await service.client.getHostMetric({
              host,
              metric,
              aggregate,
              period: { seconds: BigInt(period) },
            });
            const evalSec = evalSeconds(res);
            const expected = expectedValue(
              SAMPLE_FLEET,
              window,
              { metric, host, aggregate: hostAgg, periodSec: period },
              evalSec,
            );
            expectClose(res.result?.value, expected);
            expect(res.result?.metric).toBe(metric);
            expect(res.result?.labelName).toBe("fqdn");
            expect(res.result?.labelValue).toBe(host);
            expect(res.result?.unit).toBe(metric === "host_cpu_usage" ? "%" : "KiBy");
            expect(res.result?.query).toContain(`[${period}s]`);
            expect(res.result?.seriesCount).toBe(1);
          }
        });
      }
    }
  }

  it("runs Watcher's query byte for byte, with the max/min inversion", async () => {
    const res = await service.client.getHostMetric({
      host: "compute-1.example",
      metric: "host_cpu_usage",
      aggregate: Aggregate.MAX,
    });
    expect(res.result?.query).toBe(
      "100 - (min by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='compute-1.example'}[300s])) * 100)",
    );
    expectClose(res.result?.value, 50);
  });

  it("resolves a short name to its FQDN", async () => {
    const res = await service.client.getHostMetric({ host: "compute-2", metric: "host_cpu_usage" });
    expect(res.result?.labelValue).toBe("compute-2.example");
    expectClose(res.result?.value, 68.75);
  });

  it("resolves a label value without a dot only exactly", async () => {
    const res = await service.client.getHostMetric({ host: "shorty", metric: "host_cpu_usage" });
    expect(res.result?.labelValue).toBe("shorty");
    expectClose(res.result?.value, 62.5);
  });

  it("returns a real zero as 0, not as no data", async () => {
    const res = await service.client.getHostMetric({
      host: "compute-3.example",
      metric: "host_cpu_usage",
      period: { seconds: 60n },
    });
    expect(res.result?.value).not.toBeUndefined();
    expect(Math.abs(res.result?.value ?? 1)).toBeLessThan(1e-9);
  });

  it("escapes a host name full of quotes and backslashes, so it matches literally", async () => {
    const res = await service.client.getHostMetric({ host: ODD_HOST, metric: "host_cpu_usage" });
    expect(res.result?.query).toContain(`fqdn='odd\\'host"x\\\\y.example'`);
    expectClose(res.result?.value, 37.5);
  });

  it("answers NOT_FOUND naming an unknown host", async () => {
    const err = await service.client
      .getHostMetric({ host: "no-such-host.example", metric: "host_cpu_usage" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toContain('"no-such-host.example"');
  });

  it("answers FAILED_PRECONDITION for an ambiguous short name, naming both hosts", async () => {
    const err = (await service.client
      .getHostMetric({ host: "twin", metric: "host_cpu_usage" })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain("twin.a.example");
    expect(err.rawMessage).toContain("twin.b.example");
  });

  it("answers INVALID_ARGUMENT for an unknown metric or an instance metric, listing the host metrics", async () => {
    for (const metric of ["no_such_metric", "instance_cpu_usage"]) {
      const err = (await service.client
        .getHostMetric({ host: "compute-1.example", metric })
        .catch((e: unknown) => e)) as ConnectError;
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/^metric: /);
      expect(err.rawMessage).toContain(metric);
      expect(err.rawMessage).toContain("host_cpu_usage");
      expect(err.rawMessage).toContain("host_power");
      expect(err.metadata.get("x-error-reason")).toBe("UNKNOWN_METRIC");
    }
  });

  it("serves a real node exporter's host", async () => {
    const res = await service.client.getHostMetric({
      host: "node-exporter.local.example",
      metric: "host_ram_usage",
      period: { seconds: 30n },
    });
    expect(res.result?.value).toBeGreaterThan(0);
  });
});

describe("instance metrics through direct Prometheus", () => {
  for (const [aggregate, , instanceAgg] of AGGREGATES) {
    for (const period of PERIODS) {
      it(`instance_cpu_usage and instance_ram_usage, ${Aggregate[aggregate]}, ${period} s`, async () => {
        for (const [uuid, vcpus] of [
          [VM.a, 1],
          [VM.b, 2],
          [VM.c, 1],
          [VM.c, 2],
        ] as const) {
          const cpu = await service.client.getInstanceMetric({
            instanceId: uuid,
            metric: "instance_cpu_usage",
            aggregate,
            vcpus,
            period: { seconds: BigInt(period) },
          });
          const cpuEval = evalSeconds(cpu);
          expectClose(
            cpu.result?.value,
            expectedValue(
              SAMPLE_FLEET,
              window,
              { metric: "instance_cpu_usage", uuid, aggregate: instanceAgg, periodSec: period, vcpus },
              cpuEval,
            ),
          );
          expect(cpu.result?.unit).toBe("%");
          const ram = await service.client.getInstanceMetric({
            instanceId: uuid,
            metric: "instance_ram_usage",
            aggregate,
            period: { seconds: BigInt(period) },
          });
          const ramEval = evalSeconds(ram);
          expectClose(
            ram.result?.value,
            expectedValue(
              SAMPLE_FLEET,
              window,
              { metric: "instance_ram_usage", uuid, aggregate: instanceAgg, periodSec: period },
              ramEval,
            ),
          );
          expect(ram.result?.unit).toBe("MBy");
          expect(ram.result?.metric).toBe("instance_ram_usage");
          expect(ram.result?.labelName).toBe("resource");
          expect(ram.result?.labelValue).toBe(uuid);
        }
      });
    }
  }

  it("caps CPU at 100 % and treats vcpus 0 as 1", async () => {
    const res = await service.client.getInstanceMetric({
      instanceId: VM.c,
      metric: "instance_cpu_usage",
    });
    expect(res.result?.value).toBe(100);
    expect(res.result?.query).toBe(
      "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource='33333333-3333-4333-8333-333333333333'}[300s]))/10e+8) *(100/1), 100)",
    );
  });

  it("picks the series whose labels sort first when several come back, and says how many", async () => {
    const res = await service.client.getInstanceMetric({
      instanceId: VM.b,
      metric: "instance_ram_usage",
      aggregate: Aggregate.MAX,
    });
    expect(res.result?.seriesCount).toBe(2);
    expectClose(res.result?.value, 2816);
  });

  it("reports NaN as no data", async () => {
    const res = await service.client.getInstanceMetric({
      instanceId: VM.d,
      metric: "instance_ram_usage",
    });
    expect(res.result?.value).toBeUndefined();
    expect(res.result?.seriesCount).toBe(1);
  });

  it("reports an unknown instance as no data, with the query it ran", async () => {
    const res = await service.client.getInstanceMetric({
      instanceId: "no-such-vm",
      metric: "instance_ram_usage",
    });
    expect(res.result?.value).toBeUndefined();
    expect(res.result?.seriesCount).toBe(0);
    expect(res.result?.evaluationTime).toBeDefined();
  });

  it("answers INVALID_ARGUMENT for an unknown metric or a host metric, listing the instance metrics", async () => {
    for (const metric of ["no_such_metric", "host_ram_usage"]) {
      const err = (await service.client
        .getInstanceMetric({ instanceId: VM.a, metric })
        .catch((e: unknown) => e)) as ConnectError;
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/^metric: /);
      expect(err.rawMessage).toContain(metric);
      expect(err.rawMessage).toContain("instance_ram_usage");
      expect(err.rawMessage).toContain("instance_root_disk_size");
      expect(err.metadata.get("x-error-reason")).toBe("UNKNOWN_METRIC");
    }
  });
});

describe("ListHosts", () => {
  it("pages through every host carried by an active target, sorted, with their targets", async () => {
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await service.client.listHosts({ pageSize: 3, pageToken });
      expect(page.hosts.length).toBeLessThanOrEqual(3);
      seen.push(...page.hosts.map((h) => h.labelValue));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    const all = await service.client.listHosts({});
    expect(seen).toEqual(all.hosts.map((h) => h.labelValue));
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(
      expect.arrayContaining(["compute-1.example", ODD_HOST, "shorty", "node-exporter.local.example"]),
    );
    const compute1 = all.hosts.find((h) => h.labelValue === "compute-1.example");
    expect(compute1?.shortName).toBe("compute-1");
    expect(compute1?.targets[0]?.job).toBe("node");
    expect(all.hosts.find((h) => h.labelValue === "shorty")?.shortName).toBe("");
  });
});
