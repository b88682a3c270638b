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
  HostMetric,
  InstanceMetric,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";

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
  const err = await service.client
    .getHostMetric({ host: HOST, metric: HostMetric.CPU_USAGE, ...request })
    .then(
      (res) => new Error(`expected an error, got ${JSON.stringify(res.value)}`),
      (e: unknown) => e,
    );
  if (!(err instanceof ConnectError)) throw err;
  return err;
}

async function instanceError(request: InstanceInit): Promise<ConnectError> {
  const err = await service.client
    .getInstanceMetric({ instanceId: VM_A, metric: InstanceMetric.RAM_USAGE, ...request })
    .then(
      (res) => new Error(`expected an error, got ${JSON.stringify(res.value)}`),
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

describe("GetHostMetric rejects bad fields with INVALID_ARGUMENT naming the field", () => {
  const cases: [string, HostInit, string][] = [
    ["empty host", { host: "" }, "host"],
    ["host of 256 characters", { host: "h".repeat(256) }, "host"],
    ["unknown metric 99", { metric: 99 as HostMetric }, "metric"],
    ["UNSPECIFIED metric", { metric: HostMetric.UNSPECIFIED }, "metric"],
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
    expect((await hostError({ metric: 99 as HostMetric })).rawMessage).toContain("99");
    expect((await hostError({ period: { seconds: BigInt(366 * DAY + 1) } })).rawMessage).toContain(
      "366 days",
    );
  });

  it("accepts the limits themselves: 255 characters, 366 days, zero granularity", async () => {
    const longHost = await hostError({ host: "h".repeat(255) });
    expect(Code[longHost.code]).toBe("NotFound");
    const res = await service.client.getHostMetric({
      host: HOST,
      metric: HostMetric.CPU_USAGE,
      period: { seconds: BigInt(366 * DAY) },
      granularity: { seconds: 0n },
    });
    expect(res.query).toContain(`[${366 * DAY}s]`);
    expect(res.value).toBeDefined();
  });

  it("answers a hostile host name with NOT_FOUND naming it, never a PromQL error or a value", async () => {
    const err = await hostError({ host: HOSTILE });
    expect(Code[err.code], err.rawMessage).toBe("NotFound");
    expect(err.rawMessage).toContain(JSON.stringify(HOSTILE));
    expect(err.metadata.get("x-error-reason")).toBe("HOST_NOT_FOUND");
    for (const metric of [HostMetric.RAM_USAGE, HostMetric.CPU_USAGE]) {
      const again = await hostError({ host: HOSTILE, metric, aggregate: Aggregate.MAX });
      expect(Code[again.code]).toBe("NotFound");
    }
  });
});

describe("GetInstanceMetric rejects bad fields with INVALID_ARGUMENT naming the field", () => {
  const cases: [string, InstanceInit, string][] = [
    ["empty instance_id", { instanceId: "" }, "instance_id"],
    ["instance_id of 256 characters", { instanceId: "i".repeat(256) }, "instance_id"],
    ["unknown metric 99", { metric: 99 as InstanceMetric }, "metric"],
    ["UNSPECIFIED metric", { metric: InstanceMetric.UNSPECIFIED }, "metric"],
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

  it("matches a hostile instance id literally: OK, no value, the literal escaped in the query", async () => {
    for (const metric of [InstanceMetric.RAM_USAGE, InstanceMetric.CPU_USAGE]) {
      const res = await service.client.getInstanceMetric({ instanceId: HOSTILE, metric });
      expect(res.value).toBeUndefined();
      expect(res.seriesCount).toBe(0);
      expect(res.instanceLabelValue).toBe(HOSTILE);
      expect(res.query).toContain(`{resource=${HOSTILE_LITERAL}}`);
      // The injected tail stayed inside the literal: nothing of it is outside the quotes.
      expect(res.query.replace(HOSTILE_LITERAL, "''")).not.toContain("vector(1)");
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
      ["GetHostMetric", '{"host":"","metric":"HOST_METRIC_CPU_USAGE"}', "host"],
      ["GetHostMetric", '{"host":"compute-1.example","metric":99}', "metric"],
      [
        "GetHostMetric",
        '{"host":"compute-1.example","metric":"HOST_METRIC_CPU_USAGE","period":"1.5s"}',
        "period",
      ],
      ["GetHostMetric", '{"host":"compute-1.example","metric":1,"period":"-60s"}', "period"],
      ["GetHostMetric", '{"host":"compute-1.example","metric":1,"aggregate":99}', "aggregate"],
      ["GetInstanceMetric", '{"instanceId":"","metric":"INSTANCE_METRIC_RAM_USAGE"}', "instance_id"],
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
      // Unknown enum names are dropped like unknown fields (connect's default), so metric is unset.
      ['{"host":"compute-1.example","metric":"HOST_METRIC_BOGUS"}', "metric: required"],
      // A lone UTF-16 surrogate: JSON can carry it, UTF-8 (and so Prometheus) cannot.
      ['{"host":"x\\ud800y","metric":"HOST_METRIC_CPU_USAGE"}', "GetHostMetricRequest.host"],
      // protobuf-es names the message type here, not the field (the only such case).
      ['{"host":"compute-1.example","metric":1,"period":"soon"}', "google.protobuf.Duration"],
    ];
    for (const [body, field] of cases) {
      const out = await post("GetHostMetric", body);
      expect(out, body).toMatchObject({ status: 400, code: "invalid_argument" });
      expect(out.message, body).toContain(field);
    }
  });

  it("answers a hostile host with 404 not_found naming it", async () => {
    const out = await post(
      "GetHostMetric",
      JSON.stringify({ host: HOSTILE, metric: "HOST_METRIC_CPU_USAGE" }),
    );
    expect(out).toMatchObject({ status: 404, code: "not_found" });
    expect(out.message).toContain(JSON.stringify(HOSTILE));
  });

  it("answers a hostile instance id with no value and the literal escaped", async () => {
    const res = await fetch(`${service.url}/metricsaccess.v1.MetricsService/GetInstanceMetric`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        instanceId: HOSTILE,
        metric: "INSTANCE_METRIC_RAM_USAGE",
        period: "600s" satisfies DurationJson,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.value).toBeUndefined();
    expect(body.query).toBe(`avg_over_time(ceilometer_memory_usage{resource=${HOSTILE_LITERAL}}[600s])`);
  });
});
