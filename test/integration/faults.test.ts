/**
 * Upstream faults and how they surface: an unreachable Prometheus, one that never answers (against
 * the caller's deadline and against [prometheus_client] timeout), one that rejects the query, one
 * behind a route prefix, and one on IPv6. Messages never carry upstream addresses or text.
 */
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { callError, startTestApp, type TestApp } from "../support/app.js";
import { asEnvironment } from "../support/environment.js";
import {
  type FakePrometheus,
  startFakePrometheus,
  waitForClose,
} from "../support/interop-fake-prometheus.js";
import { freePort } from "../support/processes.js";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus.js";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;

describe("Prometheus unreachable", () => {
  let service: TestApp;
  let port: number;

  beforeAll(async () => {
    port = await freePort(); // free a moment ago, so nothing listens there: connections are refused
    service = await startTestApp({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(port),
    });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it("answers UNAVAILABLE without the upstream address", async () => {
    // One call at a time: a call started early could fail before its turn is awaited (unhandled).
    for (const call of [
      () => service.client.getHostMetric(CPU),
      () => service.client.listHosts({}),
      () => service.client.getInstanceMetric({ instanceId: "x", metric: "instance_ram_usage" }),
    ]) {
      const err = await callError(call());
      expect(Code[err.code], err.rawMessage).toBe("Unavailable");
      expect(err.rawMessage).toContain("Prometheus");
      expect(err.rawMessage).not.toContain("127.0.0.1");
      expect(err.rawMessage).not.toContain(String(port));
      expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_UNREACHABLE");
    }
  });
});

describe("Prometheus that never answers a query", () => {
  let fake: FakePrometheus;
  let service: TestApp;
  let timeoutFake: FakePrometheus;
  let timeoutService: TestApp;

  beforeAll(async () => {
    [fake, timeoutFake] = await Promise.all([
      startFakePrometheus({ query: { kind: "hang" } }),
      startFakePrometheus({ query: { kind: "hang" } }),
    ]);
    [service, timeoutService] = await Promise.all([
      startTestApp({ "prometheus_client.host": fake.host, "prometheus_client.port": String(fake.port) }),
      startTestApp({
        "prometheus_client.host": timeoutFake.host,
        "prometheus_client.port": String(timeoutFake.port),
        "prometheus_client.timeout": "1",
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([service?.stop(), timeoutService?.stop()]);
    await Promise.all([fake?.stop(), timeoutFake?.stop()]);
  });

  it("ends the call at the caller's deadline and aborts the upstream request", async () => {
    const query = fake.nextQuery(5_000);
    const started = performance.now();
    const err = await callError(
      service.client.getHostMetric(CPU, { timeoutMs: 300, headers: { "x-request-id": "faults-deadline" } }),
    );
    const elapsed = performance.now() - started;
    expect(Code[err.code]).toBe("DeadlineExceeded");
    expect(elapsed).toBeLessThan(1_000);
    const seen = await query;
    expect(seen.promql).toContain("compute-1.example");
    const closedAt = await waitForClose(seen, 1_000);
    // The socket closed around the deadline, not when the service stopped.
    expect(closedAt - seen.receivedAt).toBeLessThan(1_000);
    expect(fake.paths).toContain("/api/v1/targets");
  });

  it("answers UNAVAILABLE when [prometheus_client] timeout passes first", async () => {
    const started = performance.now();
    const err = await callError(timeoutService.client.getHostMetric(CPU, { timeoutMs: 10_000 }));
    const elapsed = performance.now() - started;
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
    expect(err.rawMessage).toContain("did not answer");
    expect(err.rawMessage).not.toContain("127.0.0.1");
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe("Prometheus rejecting or failing a query", () => {
  const SECRET = "UPSTREAM-WORDS-7f3a";
  let fake: FakePrometheus;
  let service: TestApp;

  beforeAll(async () => {
    fake = await startFakePrometheus({ query: { kind: "hang" } });
    service = await startTestApp({
      "prometheus_client.host": fake.host,
      "prometheus_client.port": String(fake.port),
    });
  });
  afterAll(async () => {
    await service?.stop();
    await fake?.stop();
  });

  it("answers INTERNAL for 400 and 422, without the upstream's text", async () => {
    for (const [status, errorType] of [
      [400, "bad_data"],
      [422, "execution"],
    ] as const) {
      fake.setQuery({
        kind: "status",
        status,
        body: { status: "error", errorType, error: `parse error at 127.0.0.1: ${SECRET}` },
      });
      const err = await callError(service.client.getHostMetric(CPU));
      expect(Code[err.code], err.rawMessage).toBe("Internal");
      expect(err.rawMessage).toContain(`HTTP ${status}`);
      expect(err.rawMessage).not.toContain(SECRET);
      expect(err.rawMessage).not.toContain("127.0.0.1");
      expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_REJECTED_QUERY");
    }
    // The upstream's own words go to the log, for the operator.
    expect(service.rawLog()).toContain(SECRET);
  });

  it("answers UNAVAILABLE for a 503, and for a 401 (the service's credentials, not the caller's)", async () => {
    fake.setQuery({ kind: "status", status: 503, body: { status: "error", error: SECRET } });
    const unavailable = await callError(service.client.getHostMetric(CPU));
    expect(Code[unavailable.code]).toBe("Unavailable");
    expect(unavailable.rawMessage).not.toContain(SECRET);

    fake.setQuery({ kind: "status", status: 401, body: { status: "error", error: SECRET } });
    const denied = await callError(service.client.getHostMetric(CPU));
    expect(Code[denied.code]).toBe("Unavailable");
    expect(denied.metadata.get("x-error-reason")).toBe("UPSTREAM_UNAUTHORIZED");
    expect(denied.rawMessage).toContain("[prometheus_client] username and password");
  });

  it("answers UNAVAILABLE for a success envelope it cannot read", async () => {
    fake.setQuery({
      kind: "status",
      status: 200,
      body: { status: "success", data: { resultType: "matrix" } },
    });
    const err = await callError(service.client.getHostMetric(CPU));
    expect(Code[err.code]).toBe("Unavailable");
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_MALFORMED");
  });
});

/** Whether ::1 is configured on the loopback interface here (`ip -6 addr show lo`). */
async function hasIpv6Loopback(): Promise<boolean> {
  const { stdout } = await execFileAsync("ip", ["-6", "addr", "show", "lo"]);
  return /inet6 ::1\/128/.test(stdout);
}

describe("Prometheus under a route prefix, and on IPv6", () => {
  const baseDir = join(ROOT, ".run", "faults");
  let prefixed: RunningPrometheus;
  let v6: RunningPrometheus | undefined;
  let ipv6Here = false;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    ipv6Here = await hasIpv6Loopback();
    [prefixed, v6] = await Promise.all([
      startPrometheus({ baseDir, routePrefix: "prometheus", nodeExporter: false }),
      ipv6Here
        ? startPrometheus({ baseDir, listenHost: "::1", nodeExporter: false })
        : Promise.resolve(undefined),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all([prefixed?.stop(), v6?.stop()]);
    await rm(baseDir, { recursive: true, force: true });
  });

  async function app(options: Record<string, string>): Promise<TestApp> {
    const started = await startTestApp(options);
    apps.push(started);
    return started;
  }

  it("answers with [prometheus_client] root_path = prometheus", async () => {
    for (const rootPath of ["prometheus", "/prometheus/"]) {
      const service = await app({
        "prometheus_client.host": "127.0.0.1",
        "prometheus_client.port": String(prefixed.port),
        "prometheus_client.root_path": rootPath,
      });
      const res = await service.client.getHostMetric(CPU);
      expect(res.result?.value).toBeCloseTo(31.25, 6);
    }
  });

  it("answers UNAVAILABLE pointing at root_path when the prefix is missing", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(prefixed.port),
    });
    const err = await callError(service.client.getHostMetric(CPU));
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
    expect(err.rawMessage).toContain("root_path");
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_NOT_FOUND");
  });

  it("builds an IPv6 origin from host = ::1, with or without brackets", () => {
    for (const host of ["::1", "[::1]"]) {
      const config = loadConfig({
        argv: [],
        env: asEnvironment({ "prometheus_client.host": host, "prometheus_client.port": "9091" }),
        readFile: () => Buffer.alloc(0),
      });
      expect(config.datasource.kind).toBe("prometheus");
      expect(config.datasource.kind === "prometheus" && config.datasource.origin).toBe("http://[::1]:9091");
    }
  });

  it("answers from a Prometheus listening on [::1] only, with host = ::1", async () => {
    // ::1 is on the loopback here; if it ever is not, this fails rather than skips.
    expect(ipv6Here, "no ::1 on lo (ip -6 addr show lo)").toBe(true);
    if (v6 === undefined) throw new Error("the IPv6 Prometheus did not start");
    for (const host of ["::1", "[::1]"]) {
      const service = await app({
        "prometheus_client.host": host,
        "prometheus_client.port": String(v6.port),
      });
      const res = await service.client.getHostMetric(CPU);
      expect(res.result?.value).toBeCloseTo(31.25, 6);
      const hosts = await service.client.listHosts({});
      expect(hosts.hosts.map((h) => h.labelValue)).toContain("compute-1.example");
    }
    // And it really is IPv6 only: 127.0.0.1 on that port is refused.
    const v4 = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(v6.port),
    });
    expect(Code[(await callError(v4.client.getHostMetric(CPU))).code]).toBe("Unavailable");
  });
});
