/**
 * Interop with `buf curl` (connect-go underneath), the grpcurl substitute: server reflection v1 and
 * v1alpha, the gRPC, gRPC-Web and Connect protocols on one port, and exit codes for errors. Plus
 * plain HTTP/1.1 Connect JSON with Node's fetch on the same port.
 */
import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const GET_HOST_METRIC = "metricsaccess.v1.MetricsService/GetHostMetric";
const COMPUTE_1_CPU = '{"host":"compute-1.example","metric":"host_cpu_usage"}';
const CPU_QUERY =
  "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='compute-1.example'}[300s])) * 100)";

const stack = inject("stack");

let service: TestApp;

beforeAll(async () => {
  // Fail, never skip, when buf is missing.
  await access(BUF, constants.X_OK);
  service = await startTestApp({
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
  });
});

afterAll(async () => {
  await service?.stop();
});

interface BufResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `buf curl ARGS` and resolves with its exit code and output, whatever the code. */
function bufCurl(args: readonly string[]): Promise<BufResult> {
  return new Promise((resolve, reject) => {
    execFile(BUF, ["curl", ...args], { cwd: ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") {
        reject(err);
        return;
      }
      resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
    });
  });
}

function base(): string {
  return `http://127.0.0.1:${service.app.port}`;
}

function expectCompute1Cpu(result: BufResult): void {
  expect(result.code, result.stderr).toBe(0);
  const body = JSON.parse(result.stdout) as { result?: Record<string, unknown> };
  // The one field of the answer: {"result": {"metric": …, "value": …, …}}.
  expect(Object.keys(body)).toEqual(["result"]);
  expect(body.result).toMatchObject({
    metric: "host_cpu_usage",
    unit: "%",
    labelName: "fqdn",
    labelValue: "compute-1.example",
    query: CPU_QUERY,
    seriesCount: 1,
  });
  expect(body.result?.value as number).toBeCloseTo(31.25, 6);
  expect(typeof body.result?.evaluationTime).toBe("string");
}

describe("buf curl", () => {
  it("lists the services through reflection", async () => {
    const result = await bufCurl(["--protocol", "grpc", "--list-services", base()]);
    expect(result.code, result.stderr).toBe(0);
    const services = result.stdout.split("\n").filter((l) => l !== "");
    expect(services).toEqual(
      expect.arrayContaining(["metricsaccess.v1.MetricsService", "grpc.health.v1.Health"]),
    );
  });

  it("lists the methods of every service", async () => {
    const result = await bufCurl(["--protocol", "grpc", "--list-methods", base()]);
    expect(result.code, result.stderr).toBe(0);
    const methods = result.stdout.split("\n").filter((l) => l.startsWith("metricsaccess."));
    expect(methods).toEqual([
      "metricsaccess.v1.MetricsService/GetHostMetric",
      "metricsaccess.v1.MetricsService/GetHostMetrics",
      "metricsaccess.v1.MetricsService/GetInstanceMetric",
      "metricsaccess.v1.MetricsService/GetInstanceMetrics",
      "metricsaccess.v1.MetricsService/ListHosts",
      "metricsaccess.v1.MetricsService/ListMetrics",
    ]);
    expect(result.stdout).toContain("grpc.health.v1.Health/Check");
  });

  it("makes the README's call with the schema from reflection v1", async () => {
    expectCompute1Cpu(
      await bufCurl([
        "--protocol",
        "grpc",
        "--reflect-protocol",
        "grpc-v1",
        "-d",
        COMPUTE_1_CPU,
        `${base()}/${GET_HOST_METRIC}`,
      ]),
    );
  });

  it("makes the same call with the schema from reflection v1alpha", async () => {
    expectCompute1Cpu(
      await bufCurl([
        "--protocol",
        "grpc",
        "--reflect-protocol",
        "grpc-v1alpha",
        "-d",
        COMPUTE_1_CPU,
        `${base()}/${GET_HOST_METRIC}`,
      ]),
    );
  });

  it("makes the same call with the Connect protocol on the same port", async () => {
    expectCompute1Cpu(
      await bufCurl(["--protocol", "connect", "-d", COMPUTE_1_CPU, `${base()}/${GET_HOST_METRIC}`]),
    );
    expectCompute1Cpu(
      await bufCurl([
        "--protocol",
        "connect",
        "--http2-prior-knowledge",
        "-d",
        COMPUTE_1_CPU,
        `${base()}/${GET_HOST_METRIC}`,
      ]),
    );
  });

  it("makes the same call with the gRPC-Web protocol on the same port", async () => {
    expectCompute1Cpu(
      await bufCurl(["--protocol", "grpcweb", "-d", COMPUTE_1_CPU, `${base()}/${GET_HOST_METRIC}`]),
    );
  });

  it("checks health", async () => {
    const result = await bufCurl([
      "--protocol",
      "grpc",
      "-d",
      '{"service":"metricsaccess.v1.MetricsService"}',
      `${base()}/grpc.health.v1.Health/Check`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });

  it("exits with the gRPC code shifted left by 3 on an error, printing code and message", async () => {
    for (const protocol of ["grpc", "connect", "grpcweb"]) {
      const result = await bufCurl([
        "--protocol",
        protocol,
        "-d",
        '{"host":"no-such-host.example","metric":"host_cpu_usage"}',
        `${base()}/${GET_HOST_METRIC}`,
      ]);
      expect(result.code, `${protocol}: ${result.stderr}`).toBe(5 << 3);
      const error = JSON.parse(result.stderr) as { code: string; message: string };
      expect(error.code, protocol).toBe("not_found");
      expect(error.message, protocol).toContain('"no-such-host.example"');
    }
    const invalid = await bufCurl([
      "--protocol",
      "grpc",
      "-d",
      '{"host":"","metric":"host_cpu_usage"}',
      `${base()}/${GET_HOST_METRIC}`,
    ]);
    expect(invalid.code).toBe(3 << 3);
    expect(JSON.parse(invalid.stderr)).toMatchObject({ code: "invalid_argument", message: "host: required" });
    const unknownMetric = await bufCurl([
      "--protocol",
      "grpc",
      "-d",
      '{"host":"compute-1.example","metric":"instance_cpu_usage"}',
      `${base()}/${GET_HOST_METRIC}`,
    ]);
    expect(unknownMetric.code).toBe(3 << 3);
    const unknown = JSON.parse(unknownMetric.stderr) as { code: string; message: string };
    expect(unknown.code).toBe("invalid_argument");
    expect(unknown.message).toMatch(/^metric: /);
    expect(unknown.message).toContain("host_cpu_usage");
  });
});

describe("Connect JSON over HTTP/1.1 with fetch", () => {
  it("answers POST application/json on the gRPC port", async () => {
    const res = await fetch(`${base()}/${GET_HOST_METRIC}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "fetch-interop-1" },
      body: COMPUTE_1_CPU,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("x-request-id")).toBe("fetch-interop-1");
    const body = (await res.json()) as { result?: Record<string, unknown> };
    expect(body.result?.metric).toBe("host_cpu_usage");
    expect(body.result?.value as number).toBeCloseTo(31.25, 6);
    expect(body.result?.unit).toBe("%");
    expect(body.result?.labelName).toBe("fqdn");
    expect(body.result?.labelValue).toBe("compute-1.example");
    expect(typeof body.result?.evaluationTime).toBe("string");
  });

  it("answers a Connect error as JSON with the HTTP status of its code", async () => {
    const res = await fetch(`${base()}/${GET_HOST_METRIC}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"host":"no-such-host.example","metric":"host_cpu_usage"}',
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("not_found");
    expect(body.message).toContain('"no-such-host.example"');
    expect(res.headers.get("x-error-reason")).toBe("HOST_NOT_FOUND");
  });
});
