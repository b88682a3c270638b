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
const COMPUTE_1_CPU = '{"host":"compute-1.example","metric":"HOST_METRIC_CPU_USAGE"}';

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
  const body = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(body.value as number).toBeCloseTo(31.25, 6);
  expect(body.unit).toBe("UNIT_PERCENT");
  expect(body.hostLabelValue).toBe("compute-1.example");
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
      "metricsaccess.v1.MetricsService/GetInstanceMetric",
      "metricsaccess.v1.MetricsService/ListHosts",
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
        '{"host":"no-such-host.example","metric":"HOST_METRIC_CPU_USAGE"}',
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
      '{"host":"","metric":"HOST_METRIC_CPU_USAGE"}',
      `${base()}/${GET_HOST_METRIC}`,
    ]);
    expect(invalid.code).toBe(3 << 3);
    expect(JSON.parse(invalid.stderr)).toMatchObject({ code: "invalid_argument", message: "host: required" });
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
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.value as number).toBeCloseTo(31.25, 6);
    expect(body.unit).toBe("UNIT_PERCENT");
    expect(typeof body.evaluationTime).toBe("string");
  });

  it("answers a Connect error as JSON with the HTTP status of its code", async () => {
    const res = await fetch(`${base()}/${GET_HOST_METRIC}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"host":"no-such-host.example","metric":"HOST_METRIC_CPU_USAGE"}',
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("not_found");
    expect(body.message).toContain('"no-such-host.example"');
    expect(res.headers.get("x-error-reason")).toBe("HOST_NOT_FOUND");
  });
});
