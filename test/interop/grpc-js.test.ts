/**
 * Interop with @grpc/grpc-js, Google's gRPC for Node and independent of connect: values, real
 * gRPC status codes with grpc-message, deadlines, request ids in metadata and grpc.health.v1.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { MetricsService, TargetHealth } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  type FakePrometheus,
  startFakePrometheus,
  waitForClose,
} from "../support/interop-fake-prometheus.js";
import { closeClient, grpc, grpcClient, metadataValue, unary } from "../support/interop-grpc.js";

const stack = inject("stack");
const VM_A = "11111111-1111-4111-8111-111111111111";
const VM_C = "33333333-3333-4333-8333-333333333333";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let service: TestApp;
let client: grpc.Client;

beforeAll(async () => {
  service = await startTestApp({
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
  });
  client = grpcClient(`127.0.0.1:${service.app.port}`);
});

afterAll(async () => {
  if (client) closeClient(client);
  await service?.stop();
});

describe("MetricsService through grpc-js", () => {
  it("answers compute-1.example's mean CPU usage over 300 s", async () => {
    const out = await unary(client, MetricsService.method.getHostMetric, {
      host: "compute-1.example",
      metric: "host_cpu_usage",
      period: { seconds: 300n },
    });
    expect(out.code).toBe(grpc.status.OK);
    expect(out.response?.result?.metric).toBe("host_cpu_usage");
    expect(out.response?.result?.value).toBeCloseTo(31.25, 6);
    expect(out.response?.result?.unit).toBe("%");
    expect(out.response?.result?.labelName).toBe("fqdn");
    expect(out.response?.result?.labelValue).toBe("compute-1.example");
    expect(out.response?.result?.seriesCount).toBe(1);
    expect(out.response?.result?.query).toBe(
      "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='compute-1.example'}[300s])) * 100)",
    );
  });

  it("answers instance metrics", async () => {
    const ram = await unary(client, MetricsService.method.getInstanceMetric, {
      instanceId: VM_A,
      metric: "instance_ram_usage",
    });
    expect(ram.code).toBe(grpc.status.OK);
    expect(ram.response?.result?.metric).toBe("instance_ram_usage");
    expect(ram.response?.result?.value).toBeCloseTo(768, 6);
    expect(ram.response?.result?.unit).toBe("MBy");
    expect(ram.response?.result?.labelName).toBe("resource");
    expect(ram.response?.result?.labelValue).toBe(VM_A);

    const cpu = await unary(client, MetricsService.method.getInstanceMetric, {
      instanceId: VM_C,
      metric: "instance_cpu_usage",
      vcpus: 2,
    });
    expect(cpu.code).toBe(grpc.status.OK);
    expect(cpu.response?.result?.value).toBeCloseTo(75, 6);
    expect(cpu.response?.result?.unit).toBe("%");
  });

  it("lists the hosts, sorted, with their targets", async () => {
    const out = await unary(client, MetricsService.method.listHosts, { pageSize: 1000 });
    expect(out.code).toBe(grpc.status.OK);
    const names = out.response?.hosts.map((h) => h.labelValue) ?? [];
    expect(names).toEqual(expect.arrayContaining(["compute-1.example", "compute-2.example", "shorty"]));
    expect(names).toEqual([...names].sort());
    expect(out.response?.nextPageToken).toBe("");
    const compute1 = out.response?.hosts.find((h) => h.labelValue === "compute-1.example");
    expect(compute1?.shortName).toBe("compute-1");
    expect(compute1?.targets[0]).toMatchObject({ job: "node", instance: "10.0.0.1:9100" });
    // The fleet's placeholder targets point at port 0: never scraped successfully.
    expect([TargetHealth.DOWN, TargetHealth.UNKNOWN]).toContain(compute1?.targets[0]?.health);
  });

  it("answers NOT_FOUND as a real gRPC status, grpc-message naming the host", async () => {
    const out = await unary(client, MetricsService.method.getHostMetric, {
      host: "no-such-host.example",
      metric: "host_cpu_usage",
    });
    expect(out.code).toBe(grpc.status.NOT_FOUND);
    expect(out.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(out.details).toContain('"no-such-host.example"');
    expect(out.response).toBeUndefined();
    expect(metadataValue(out, "x-error-reason")).toBe("HOST_NOT_FOUND");
    expect(metadataValue(out, "x-request-id")).toMatch(UUID);
  });

  it("carries google.rpc.ErrorInfo and BadRequest in grpc-status-details-bin", async () => {
    const out = await unary(client, MetricsService.method.getHostMetric, {
      host: "",
      metric: "host_cpu_usage",
    });
    const raw =
      out.trailers.get("grpc-status-details-bin")[0] ?? out.headers.get("grpc-status-details-bin")[0];
    expect(raw).toBeInstanceOf(Buffer);
    const status = fromBinary(StatusSchema, raw as Buffer);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    const info = status.details.find((d) => anyIs(d, ErrorInfoSchema));
    const badRequest = status.details.find((d) => anyIs(d, BadRequestSchema));
    expect(info && anyUnpack(info, ErrorInfoSchema)).toMatchObject({
      reason: "INVALID_FIELD",
      domain: "metricsaccess.v1",
    });
    expect(badRequest && anyUnpack(badRequest, BadRequestSchema)?.fieldViolations[0]).toMatchObject({
      field: "host",
    });
  });

  it("carries ErrorInfo UNKNOWN_METRIC and BadRequest naming metric for a metric of the other subject", async () => {
    for (const metric of ["no_such_metric", "instance_cpu_usage"]) {
      const out = await unary(client, MetricsService.method.getHostMetric, {
        host: "compute-1.example",
        metric,
      });
      expect(out.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(out.details).toMatch(/^metric: /);
      expect(out.details).toContain("host_cpu_usage");
      const raw =
        out.trailers.get("grpc-status-details-bin")[0] ?? out.headers.get("grpc-status-details-bin")[0];
      expect(raw).toBeInstanceOf(Buffer);
      const status = fromBinary(StatusSchema, raw as Buffer);
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      const info = status.details.find((d) => anyIs(d, ErrorInfoSchema));
      const badRequest = status.details.find((d) => anyIs(d, BadRequestSchema));
      expect(info && anyUnpack(info, ErrorInfoSchema)).toMatchObject({
        reason: "UNKNOWN_METRIC",
        domain: "metricsaccess.v1",
      });
      expect(badRequest && anyUnpack(badRequest, BadRequestSchema)?.fieldViolations[0]).toMatchObject({
        field: "metric",
      });
    }
  });

  it("answers INVALID_ARGUMENT with the field name in grpc-message", async () => {
    const empty = await unary(client, MetricsService.method.getHostMetric, {
      host: "",
      metric: "host_cpu_usage",
    });
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.details).toMatch(/^host\b/);
    expect(metadataValue(empty, "x-error-reason")).toBe("INVALID_FIELD");

    const fractional = await unary(client, MetricsService.method.getInstanceMetric, {
      instanceId: VM_A,
      metric: "instance_ram_usage",
      period: { seconds: 300n, nanos: 500_000_000 },
    });
    expect(fractional.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(fractional.details).toMatch(/^period\b/);
  });

  it("sends grpc-message so that grpc-js reads the exact text (no %3A, %2C, %3B left over)", async () => {
    // grpc-js decodes grpc-message with decodeURI, which leaves escapes of reserved characters
    // (":" "," ";" "/" …) alone. The gRPC spec asks only "%" and bytes outside 0x20-0x7E to be
    // escaped; connect-node escapes with encodeURIComponent, so grpc-js would read "host%3A required".
    const empty = await unary(client, MetricsService.method.getHostMetric, {
      host: "",
      metric: "host_cpu_usage",
    });
    expect(empty.details).toBe("host: required");
    const ambiguous = await unary(client, MetricsService.method.getHostMetric, {
      host: "twin",
      metric: "host_cpu_usage",
    });
    expect(ambiguous.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(ambiguous.details).toBe(
      'host "twin" is ambiguous: it is the short name of "twin.a.example", "twin.b.example"; use the full name',
    );
  });

  it("carries x-request-id in the response headers, echoing the caller's", async () => {
    const fresh = await unary(client, MetricsService.method.getHostMetric, {
      host: "compute-2.example",
      metric: "host_ram_usage",
    });
    expect(fresh.code).toBe(grpc.status.OK);
    expect(fresh.headers.get("x-request-id")[0]).toMatch(UUID);

    const mine = "grpc-js-interop-0001";
    const echoed = await unary(
      client,
      MetricsService.method.getHostMetric,
      { host: "compute-2.example", metric: "host_ram_usage" },
      { metadata: { "x-request-id": mine } },
    );
    expect(echoed.code).toBe(grpc.status.OK);
    expect(echoed.headers.get("x-request-id")).toEqual([mine]);
    // The same id is on the service's log line of that call.
    expect(service.logs.some((l) => l.requestId === mine && l.msg === "call")).toBe(true);

    // An id with characters unfit for a log line is replaced, not echoed.
    const odd = await unary(
      client,
      MetricsService.method.getHostMetric,
      { host: "nope.example", metric: "host_ram_usage" },
      { metadata: { "x-request-id": "bad id {}" } },
    );
    expect(odd.code).toBe(grpc.status.NOT_FOUND);
    expect(metadataValue(odd, "x-request-id")).toMatch(UUID);
  });
});

describe("deadlines through grpc-js", () => {
  let hanging: FakePrometheus;
  let slowService: TestApp;
  let slowClient: grpc.Client;

  beforeAll(async () => {
    hanging = await startFakePrometheus({ query: { kind: "hang" } });
    slowService = await startTestApp({
      "prometheus_client.host": hanging.host,
      "prometheus_client.port": String(hanging.port),
    });
    slowClient = grpcClient(`127.0.0.1:${slowService.app.port}`);
  });

  afterAll(async () => {
    if (slowClient) closeClient(slowClient);
    await slowService?.stop();
    await hanging?.stop();
  });

  it("ends a call at its grpc-js deadline with DEADLINE_EXCEEDED, and the server gives up too", async () => {
    const query = hanging.nextQuery(5_000);
    const out = await unary(
      slowClient,
      MetricsService.method.getHostMetric,
      { host: "compute-1.example", metric: "host_cpu_usage" },
      { timeoutMs: 300, metadata: { "x-request-id": "grpc-js-deadline" } },
    );
    expect(out.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(out.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(out.elapsedMs).toBeLessThan(1_500);
    // The upstream request of the call was aborted, not left hanging.
    await waitForClose(await query, 2_000);
    await expect
      .poll(() => slowService.logs.find((l) => l.requestId === "grpc-js-deadline" && l.msg !== "call"))
      .toBeDefined();
  });

  it("fails at once with DEADLINE_EXCEEDED when the deadline has already passed", async () => {
    const out = await unary(
      client,
      MetricsService.method.getHostMetric,
      { host: "compute-1.example", metric: "host_cpu_usage" },
      { timeoutMs: -1 },
    );
    expect(out.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});

describe("grpc.health.v1 through grpc-js", () => {
  it("is SERVING for the server and for the metrics service", async () => {
    for (const name of ["", "metricsaccess.v1.MetricsService"]) {
      const out = await unary(client, Health.method.check, { service: name });
      expect(out.code, name).toBe(grpc.status.OK);
      expect(out.response?.status, name).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });

  it("is NOT_FOUND for an unknown service", async () => {
    const out = await unary(client, Health.method.check, { service: "no.such.Service" });
    expect(out.code).toBe(grpc.status.NOT_FOUND);
    expect(out.details).toContain("no.such.Service");
  });
});
