/**
 * Every kind of bad request field, against the real Prometheus: the gRPC code, and a message that
 * starts with the field's name. Hostile strings never change a query: an unknown host is NOT_FOUND
 * by name, an instance id is matched literally.
 */
import type { DurationJson } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  Aggregate,
  type GetHostMetricRequest,
  type GetInstanceMetricRequest,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { WATCHER_HOST_METRICS, WATCHER_INSTANCE_METRICS } from "../support/watcher-metrics.js";

const stack = inject("stack");

const HOST = "compute-1.example";
const VM_A = "11111111-1111-4111-8111-111111111111";
const DAY = 24 * 3600;
/** Quotes, braces, backslashes and a PromQL tail: what an injection would try. */
const HOSTILE = "a'b\"c{d}e\\f\\'})) or vector(1) #";
/** HOSTILE as a single-quoted PromQL string literal (Go unquoting rules: escape \ and '). */
const HOSTILE_LITERAL = `'${HOSTILE.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

let service: TestApp;

beforeAll(async () => {
  service = await startTestApp({
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
  });
});

afterAll(async () => {
  await service?.stop();
});

type HostInit = Partial<Omit<GetHostMetricRequest, "$typeName" | "period" | "granularity">> & {
  period?: { seconds: bigint; nanos?: number };
  granularity?: { seconds: bigint; nanos?: number };
};
type InstanceInit = Partial<Omit<GetInstanceMetricRequest, "$typeName" | "period" | "granularity">> & {
  period?: { seconds: bigint; nanos?: number };
  granularity?: { seconds: bigint; nanos?: number };
};

async function hostError(request: HostInit): Promise<ConnectError> {
  const err = await service.client.getHostMetric({ host: HOST, metric: "host_cpu_usage", ...request }).then(
    (res) => new Error(`expected an error, got ${JSON.stringify(res.result?.value)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw err;
  return err;
}

async function instanceError(request: InstanceInit): Promise<ConnectError> {
  const err = await service.client
    .getInstanceMetric({ instanceId: VM_A, metric: "instance_ram_usage", ...request })
    .then(
      (res) => new Error(`expected an error, got ${JSON.stringify(res.result?.value)}`),
      (e: unknown) => e,
    );
  if (!(err instanceof ConnectError)) throw err;
  return err;
}

function expectInvalid(err: ConnectError, field: string): void {
  expect(Code[err.code], err.rawMessage).toBe("InvalidArgument");
  expect(err.rawMessage.startsWith(`${field}: `), err.rawMessage).toBe(true);
  expect(err.metadata.get("x-error-reason")).toBe("INVALID_FIELD");
}

/** INVALID_ARGUMENT, reason UNKNOWN_METRIC, naming `metric` and listing the subject's metrics. */
function expectUnknownMetric(err: ConnectError, metric: string, listed: readonly string[]): void {
  expect(Code[err.code], err.rawMessage).toBe("InvalidArgument");
  expect(err.rawMessage.startsWith("metric: "), err.rawMessage).toBe(true);
  expect(err.rawMessage).toContain(metric);
  for (const name of listed) expect(err.rawMessage).toContain(name);
  expect(err.metadata.get("x-error-reason")).toBe("UNKNOWN_METRIC");
}

const HOST_METRICS = [...WATCHER_HOST_METRICS];
const INSTANCE_METRICS = [...WATCHER_INSTANCE_METRICS];

describe("GetHostMetric rejects bad fields with INVALID_ARGUMENT naming the field", () => {
  const cases: [string, HostInit, string][] = [
    ["empty host", { host: "" }, "host"],
    ["host of 256 characters", { host: "h".repeat(256) }, "host"],
    ["empty metric", { metric: "" }, "metric"],
    ["metric of 256 characters", { metric: "m".repeat(256) }, "metric"],
    ["unknown aggregate 99", { aggregate: 99 as Aggregate }, "aggregate"],
    ["negative period", { period: { seconds: -300n } }, "period"],
    ["negative nanos in the period", { period: { seconds: 0n, nanos: -1 } }, "period"],
    ["fractional period", { period: { seconds: 300n, nanos: 500_000_000 } }, "period"],
    ["huge period (1e12 s)", { period: { seconds: 1_000_000_000_000n } }, "period"],
    ["period of 366 days and 1 s", { period: { seconds: BigInt(366 * DAY + 1) } }, "period"],
    ["negative granularity", { granularity: { seconds: -1n } }, "granularity"],
  ];
  for (const [name, request, field] of cases) {
    it(name, async () => {
      expectInvalid(await hostError(request), field);
    });
  }

  it("names the limit it enforces", async () => {
    expect((await hostError({ host: "h".repeat(256) })).rawMessage).toContain("255");
    expect((await hostError({ metric: "" })).rawMessage).toBe("metric: required");
    expect((await hostError({ metric: "m".repeat(256) })).rawMessage).toContain("255");
    expect((await hostError({ period: { seconds: BigInt(366 * DAY + 1) } })).rawMessage).toContain(
      "366 days",
    );
  });

  it("answers an unknown metric, an instance metric or an old enum name with UNKNOWN_METRIC", async () => {
    for (const metric of [
      "no_such_metric",
      "instance_cpu_usage",
      "HOST_METRIC_CPU_USAGE",
      "Host_CPU_Usage",
    ]) {
      expectUnknownMetric(await hostError({ metric }), metric, HOST_METRICS);
    }
  });

  it("checks the metric before the host: an unknown metric of an unknown host is UNKNOWN_METRIC", async () => {
    expectUnknownMetric(
      await hostError({ host: "no-such-host.example", metric: "no_such_metric" }),
      "no_such_metric",
      HOST_METRICS,
    );
  });

  it("accepts the limits themselves: 255 characters, 366 days, zero granularity", async () => {
    const longHost = await hostError({ host: "h".repeat(255) });
    expect(Code[longHost.code]).toBe("NotFound");
    const res = await service.client.getHostMetric({
      host: HOST,
      metric: "host_cpu_usage",
      period: { seconds: BigInt(366 * DAY) },
      granularity: { seconds: 0n },
    });
    expect(res.result?.query).toContain(`[${366 * DAY}s]`);
    expect(res.result?.value).toBeDefined();
  });

  it("answers a hostile host name with NOT_FOUND naming it, never a PromQL error or a value", async () => {
    const err = await hostError({ host: HOSTILE });
    expect(Code[err.code], err.rawMessage).toBe("NotFound");
    expect(err.rawMessage).toContain(JSON.stringify(HOSTILE));
    expect(err.metadata.get("x-error-reason")).toBe("HOST_NOT_FOUND");
    for (const metric of ["host_ram_usage", "host_cpu_usage"]) {
      const again = await hostError({ host: HOSTILE, metric, aggregate: Aggregate.MAX });
      expect(Code[again.code]).toBe("NotFound");
    }
  });
});

describe("GetInstanceMetric rejects bad fields with INVALID_ARGUMENT naming the field", () => {
  const cases: [string, InstanceInit, string][] = [
    ["empty instance_id", { instanceId: "" }, "instance_id"],
    ["instance_id of 256 characters", { instanceId: "i".repeat(256) }, "instance_id"],
    ["empty metric", { metric: "" }, "metric"],
    ["metric of 256 characters", { metric: "m".repeat(256) }, "metric"],
    ["unknown aggregate 99", { aggregate: 99 as Aggregate }, "aggregate"],
    ["negative period", { period: { seconds: -1n } }, "period"],
    ["fractional period", { period: { seconds: 0n, nanos: 1 } }, "period"],
    ["huge period (1e12 s)", { period: { seconds: 1_000_000_000_000n } }, "period"],
    ["period of 366 days and 1 s", { period: { seconds: BigInt(366 * DAY + 1) } }, "period"],
    ["negative granularity", { granularity: { seconds: 0n, nanos: -5 } }, "granularity"],
  ];
  for (const [name, request, field] of cases) {
    it(name, async () => {
      expectInvalid(await instanceError(request), field);
    });
  }

  it("answers an unknown metric, a host metric or an old enum name with UNKNOWN_METRIC", async () => {
    for (const metric of ["no_such_metric", "host_ram_usage", "INSTANCE_METRIC_RAM_USAGE"]) {
      expectUnknownMetric(await instanceError({ metric }), metric, INSTANCE_METRICS);
    }
    // A hostile name is only ever looked up, never put into a query.
    const hostile = await instanceError({ metric: HOSTILE });
    expect(Code[hostile.code], hostile.rawMessage).toBe("InvalidArgument");
    expect(hostile.rawMessage.startsWith("metric: "), hostile.rawMessage).toBe(true);
    expect(hostile.metadata.get("x-error-reason")).toBe("UNKNOWN_METRIC");
  });

  it("matches a hostile instance id literally: OK, no value, the literal escaped in the query", async () => {
    for (const metric of ["instance_ram_usage", "instance_cpu_usage"]) {
      const res = await service.client.getInstanceMetric({ instanceId: HOSTILE, metric });
      expect(res.result?.value).toBeUndefined();
      expect(res.result?.seriesCount).toBe(0);
      expect(res.result?.labelValue).toBe(HOSTILE);
      expect(res.result?.query).toContain(`{resource=${HOSTILE_LITERAL}}`);
      // The injected tail stayed inside the literal: nothing of it is outside the quotes.
      expect(res.result?.query.replace(HOSTILE_LITERAL, "''")).not.toContain("vector(1)");
    }
  });
});

describe("ListHosts rejects bad paging fields", () => {
  it("page_size -1", async () => {
    const err = await service.client.listHosts({ pageSize: -1 }).catch((e: unknown) => e as ConnectError);
    expectInvalid(err as ConnectError, "page_size");
  });

  it("a garbage page_token, and a well-formed one it did not issue", async () => {
    for (const pageToken of [
      "!!garbage!!",
      "eyJub3QiOiJvdXJzIn0",
      Buffer.from(JSON.stringify({ v: 2, after: "x" })).toString("base64url"),
    ]) {
      const err = await service.client.listHosts({ pageToken }).catch((e: unknown) => e as ConnectError);
      expectInvalid(err as ConnectError, "page_token");
    }
  });

  it("lowers a page_size over 1000 instead of failing", async () => {
    const page = await service.client.listHosts({ pageSize: 5000 });
    expect(page.hosts.length).toBeGreaterThan(0);
    expect(page.nextPageToken).toBe("");
  });
});

describe("bad input through Connect JSON over HTTP/1.1", () => {
  async function post(
    method: string,
    body: string,
  ): Promise<{ status: number; code: string; message: string }> {
    const res = await fetch(`${service.url}/metricsaccess.v1.MetricsService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const json = (await res.json()) as { code: string; message: string };
    return { status: res.status, code: json.code, message: json.message };
  }

  it("answers 400 invalid_argument naming the field", async () => {
    const cases: [string, string, string][] = [
      ["GetHostMetric", '{"host":"","metric":"host_cpu_usage"}', "host"],
      ["GetHostMetric", '{"host":"compute-1.example"}', "metric"],
      ["GetHostMetric", '{"host":"compute-1.example","metric":"no_such_metric"}', "metric"],
      // The enum names of the old contract are unknown metric names now.
      ["GetHostMetric", '{"host":"compute-1.example","metric":"HOST_METRIC_CPU_USAGE"}', "metric"],
      ["GetHostMetric", '{"host":"compute-1.example","metric":"host_cpu_usage","period":"1.5s"}', "period"],
      ["GetHostMetric", '{"host":"compute-1.example","metric":"host_cpu_usage","period":"-60s"}', "period"],
      ["GetHostMetric", '{"host":"compute-1.example","metric":"host_cpu_usage","aggregate":99}', "aggregate"],
      ["GetInstanceMetric", '{"instanceId":"","metric":"instance_ram_usage"}', "instance_id"],
      ["GetInstanceMetric", '{"instanceId":"x","metric":"host_ram_usage"}', "metric"],
      ["ListHosts", '{"pageSize":-1}', "page_size"],
      ["ListHosts", '{"pageToken":"garbage"}', "page_token"],
    ];
    for (const [method, body, field] of cases) {
      const out = await post(method, body);
      expect(out, body).toMatchObject({ status: 400, code: "invalid_argument" });
      expect(out.message.startsWith(`${field}: `), `${body} → ${out.message}`).toBe(true);
    }
  });

  it("rejects what JSON decoding cannot take, or drops, naming the field", async () => {
    const cases: [string, string][] = [
      // metric is a string: a number (an old enum value) does not decode.
      ['{"host":"compute-1.example","metric":1}', "GetHostMetricRequest.metric"],
      // A lone UTF-16 surrogate: JSON can carry it, UTF-8 (and so Prometheus) cannot.
      ['{"host":"x\\ud800y","metric":"host_cpu_usage"}', "GetHostMetricRequest.host"],
      // protobuf-es names the message type here, not the field (the only such case).
      ['{"host":"compute-1.example","metric":"host_cpu_usage","period":"soon"}', "google.protobuf.Duration"],
    ];
    for (const [body, field] of cases) {
      const out = await post("GetHostMetric", body);
      expect(out, body).toMatchObject({ status: 400, code: "invalid_argument" });
      expect(out.message, body).toContain(field);
    }
  });

  it("answers a hostile host with 404 not_found naming it", async () => {
    const out = await post("GetHostMetric", JSON.stringify({ host: HOSTILE, metric: "host_cpu_usage" }));
    expect(out).toMatchObject({ status: 404, code: "not_found" });
    expect(out.message).toContain(JSON.stringify(HOSTILE));
  });

  it("answers a hostile instance id with no value and the literal escaped", async () => {
    const res = await fetch(`${service.url}/metricsaccess.v1.MetricsService/GetInstanceMetric`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        instanceId: HOSTILE,
        metric: "instance_ram_usage",
        period: "600s" satisfies DurationJson,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result?: Record<string, unknown> };
    expect(body.result?.value).toBeUndefined();
    expect(body.result?.metric).toBe("instance_ram_usage");
    expect(body.result?.labelName).toBe("resource");
    expect(body.result?.labelValue).toBe(HOSTILE);
    expect(body.result?.query).toBe(
      `avg_over_time(ceilometer_memory_usage{resource=${HOSTILE_LITERAL}}[600s])`,
    );
  });
});
