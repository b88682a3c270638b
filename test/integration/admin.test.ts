/**
 * The admin port against a real Prometheus of its own, which the test stops and starts again on
 * the same port and data: /healthz, /readyz following the upstream with the gRPC health service
 * changing at the same moment, /metrics, and admin_listen empty turning the port off.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { aetosPasswordOptions } from "../support/aetos-harness.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { httpOk, type RunningProcess, spawnLogged, waitUntil } from "../support/processes.js";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;

describe("admin port", () => {
  let prometheus: RunningPrometheus;
  let restarted: RunningProcess | undefined;
  let service: TestApp;
  let admin: string;

  beforeAll(async () => {
    prometheus = await startPrometheus({
      baseDir: join(ROOT, ".run", "admin"),
      nodeExporter: false,
      keepData: true,
    });
    service = await startTestApp({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(prometheus.port),
      "metrics_access.readiness_interval": "0.25",
      "metrics_access.query_cache_ttl": "60",
    });
    admin = `http://127.0.0.1:${service.app.adminPort}`;
  });
  afterAll(async () => {
    await service?.stop();
    await restarted?.stop();
    await prometheus?.stop();
    if (prometheus) {
      await rm(join(prometheus.workDir, "tsdb"), { recursive: true, force: true });
      await rm(join(prometheus.workDir, "fleet.om"), { force: true });
    }
  });

  const status = async (path: string) => (await fetch(`${admin}${path}`)).status;
  const healthCheck = async (service_: string) => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: service.url }));
    return (await health.check({ service: service_ })).status;
  };

  it("serves /healthz and /metrics with RPC, upstream, process and shared-query metrics", async () => {
    expect(await status("/healthz")).toBe(200);
    expect(await status("/nowhere")).toBe(404);
    await service.client.getHostMetric(CPU);
    await service.client.getHostMetric(CPU); // the same query within the TTL step: a cache hit
    const res = await fetch(`${admin}/metrics`);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toMatch(
      /^grpc_server_handled_total\{grpc_service="metricsaccess\.v1\.MetricsService",grpc_method="GetHostMetric",grpc_type="unary",grpc_code="OK"\} 2$/m,
    );
    expect(text).toMatch(/^grpc_server_started_total\{[^}]*grpc_method="GetHostMetric"[^}]*\} 2$/m);
    expect(text).toMatch(/^grpc_server_handling_seconds_count\{[^}]*grpc_method="GetHostMetric"[^}]*\} 2$/m);
    expect(text).toMatch(
      /^metrics_access_upstream_request_duration_seconds_count\{backend="prometheus",outcome="success"\} [1-9]/m,
    );
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^metrics_access_shared_queries_total\{result="cache_hit"\} [1-9]/m);
    expect(text).toMatch(/^metrics_access_shared_queries_total\{result="cache_miss"\} [1-9]/m);
    expect(text).toMatch(/^metrics_access_shared_queries_total\{result="coalesced"\} \d/m);
  });

  it("is ready while Prometheus answers, not ready with NOT_SERVING when it stops, ready again after", async () => {
    expect(await status("/readyz")).toBe(200);
    expect(await healthCheck("")).toBe(HealthCheckResponse_ServingStatus.SERVING);

    await prometheus.process.stop();
    const stoppedAt = performance.now();
    await waitUntil("/readyz 503", async () => (await status("/readyz")) === 503, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    expect(performance.now() - stoppedAt).toBeLessThan(5_000);
    // Both change in the same step: no probe can bring them back while Prometheus is down.
    expect(await healthCheck("")).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    expect(await healthCheck("metricsaccess.v1.MetricsService")).toBe(
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    );
    expect(await status("/healthz")).toBe(200);

    // The same Prometheus again, on its port and data.
    const tsdb = join(prometheus.workDir, "tsdb");
    restarted = await spawnLogged({
      name: "prometheus-restarted",
      command: "prometheus",
      args: [
        `--config.file=${join(prometheus.workDir, "prometheus.yml")}`,
        `--storage.tsdb.path=${tsdb}`,
        "--storage.tsdb.retention.time=30d",
        `--web.listen-address=127.0.0.1:${prometheus.port}`,
      ],
      logDir: prometheus.workDir,
      cwd: prometheus.workDir,
    });
    await waitUntil("restarted prometheus /-/ready", () => httpOk(`${prometheus.url}/-/ready`), {
      timeoutMs: 30_000,
      intervalMs: 100,
      process: restarted,
    });
    await waitUntil("/readyz 200", async () => (await status("/readyz")) === 200, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    expect(await healthCheck("")).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(await healthCheck("metricsaccess.v1.MetricsService")).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    const text = await (await fetch(`${admin}/metrics`)).text();
    expect(text).toMatch(
      /^metrics_access_upstream_request_duration_seconds_count\{backend="prometheus",outcome="transport_error"\} [1-9]/m,
    );
  });

  it("is off with an empty admin_listen", async () => {
    const off = await startTestApp({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(prometheus.port),
      "metrics_access.admin_listen": "",
    });
    try {
      expect(off.app.adminPort).toBeUndefined();
      expect(off.logs.some((l) => l.admin !== undefined)).toBe(false);
    } finally {
      await off.stop();
    }
  });
});

describe("admin port through Aetos", () => {
  it("is ready with a Keystone token held and Aetos answering, and counts Keystone and Aetos", async () => {
    const stack = inject("stack");
    const service = await startTestApp(
      aetosPasswordOptions(stack.keystoneUrl, stack.watcher, { "aetos_client.region_name": "RegionOne" }),
    );
    try {
      const admin = `http://127.0.0.1:${service.app.adminPort}`;
      expect((await fetch(`${admin}/readyz`)).status).toBe(200);
      const text = await (await fetch(`${admin}/metrics`)).text();
      expect(text).toMatch(/^metrics_access_keystone_authentications_total\{outcome="success"\} 1$/m);
      expect(text).toMatch(
        /^metrics_access_upstream_request_duration_seconds_count\{backend="keystone",outcome="success"\} 1$/m,
      );
      expect(text).toMatch(
        /^metrics_access_upstream_request_duration_seconds_count\{backend="aetos",outcome="success"\} [1-9]/m,
      );
    } finally {
      await service.stop();
    }
  });
});
