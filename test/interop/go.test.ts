/**
 * Interop with grpc-go, the way a Go decision engine would call the service: the example client of
 * examples/go, built offline from Debian's Go packages (golang-go, golang-google-grpc-dev,
 * golang-google-genproto-dev; GOPATH mode over /usr/share/gocode) against stubs that protoc +
 * protoc-gen-go + protoc-gen-go-grpc generate from the contract into a temp dir. It must print the
 * same values as the Python grpcio client and grpc-js for the same requests. Missing tools fail the
 * test; nothing is skipped.
 */
import { execFile } from "node:child_process";
import { access, constants, mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { type FaultyPrometheus, startFaultyPrometheus, vectorBody } from "../support/faulty-prometheus.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";
import {
  type ClientLine,
  generatePythonStubs,
  PYTHON_CLIENT_ENV,
  parseClientLines,
  pythonClientCommand,
  runPythonClient,
} from "../support/interop-python.js";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const GO = "/usr/bin/go";
const PROTOC_GEN_GO = "/usr/bin/protoc-gen-go";
const PROTOC_GEN_GO_GRPC = "/usr/bin/protoc-gen-go-grpc";
const GOCODE = "/usr/share/gocode";
/** Relative to ROOT: GOPATH-mode go build takes no absolute package path. */
const GO_CLIENT = "./examples/go";
/** The import path the stubs get (the proto has no go_package: the contract is frozen). */
const GO_IMPORT = "metricsaccess/gen/metricsaccess/v1;metricsaccessv1";
/** Kept between runs (.run is ignored by git), so only the first run compiles grpc-go. */
const GOCACHE = join(ROOT, ".run", "go-build-cache");

const stack = inject("stack");

let service: TestApp;
let workDir: string;
let goBinary: string;
let pyGenDir: string;

beforeAll(async () => {
  // Fail, never skip, when a tool is missing.
  for (const tool of [GO, PROTOC_GEN_GO, PROTOC_GEN_GO_GRPC]) {
    await access(tool, constants.X_OK);
  }
  await access(join(GOCODE, "src/google.golang.org/grpc"));
  await mkdir(GOCACHE, { recursive: true });
  workDir = await mkdtemp(join(ROOT, ".run", "go-interop-"));
  const goPath = join(workDir, "gopath");
  pyGenDir = join(workDir, "py-gen");
  goBinary = join(workDir, "metrics-access-go-client");
  await mkdir(join(goPath, "src"), { recursive: true });
  await mkdir(pyGenDir, { recursive: true });

  // The Go stubs land in the temp GOPATH under GO_IMPORT's path.
  const mapping = `Mmetricsaccess/v1/metrics.proto=${GO_IMPORT}`;
  await execFileAsync(
    "protoc",
    [
      "-I",
      "proto",
      `--plugin=protoc-gen-go=${PROTOC_GEN_GO}`,
      `--plugin=protoc-gen-go-grpc=${PROTOC_GEN_GO_GRPC}`,
      `--go_out=${join(goPath, "src")}`,
      `--go_opt=${mapping}`,
      `--go-grpc_out=${join(goPath, "src")}`,
      `--go-grpc_opt=${mapping}`,
      "metricsaccess/v1/metrics.proto",
    ],
    { cwd: ROOT },
  );
  await generatePythonStubs(pyGenDir);
  // Offline: GOPATH mode over Debian's packaged sources, no module proxy, no network.
  await execFileAsync(GO, ["build", "-trimpath", "-o", goBinary, GO_CLIENT], {
    cwd: ROOT,
    timeout: 110_000,
    env: {
      PATH: "/usr/bin:/bin",
      HOME: workDir,
      GO111MODULE: "off",
      GOPATH: `${goPath}:${GOCODE}`,
      GOCACHE,
      GOPROXY: "off",
      GOFLAGS: "",
      CGO_ENABLED: "0",
    },
  });
  service = await startTestApp({
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
  });
});

afterAll(async () => {
  await service?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function runGoClient(requestId: string): Promise<Map<string, ClientLine>> {
  const { stdout } = await execFileAsync(goBinary, [`127.0.0.1:${service.app.port}`, requestId], {
    cwd: ROOT,
    timeout: 20_000,
    env: { PATH: "/usr/bin:/bin" },
  });
  return parseClientLines(stdout);
}

describe("Go grpc-go client (examples/go) with generated stubs", () => {
  it("gets the fleet's numbers, the NOT_FOUND code and the ErrorInfo reason", async () => {
    const requestId = "go-interop-0001";
    const lines = await runGoClient(requestId);

    const cpu = lines.get("host_cpu");
    expect(cpu).toMatchObject({
      has_result: true,
      metric: "host_cpu_usage",
      has_value: true,
      unit: "%",
      label_name: "fqdn",
      label_value: "compute-1.example",
      series_count: 1,
      request_id: requestId,
    });
    expect(cpu?.value as number).toBeCloseTo(31.25, 6);

    // The same request from grpc-js right after gives the same number and query.
    const client = grpcClient(`127.0.0.1:${service.app.port}`);
    try {
      const js = await unary(client, MetricsService.method.getHostMetric, {
        host: "compute-1.example",
        metric: "host_cpu_usage",
        period: { seconds: 300n },
      });
      expect(js.code).toBe(grpc.status.OK);
      expect(js.response?.result?.query).toBe(cpu?.query);
      expect(cpu?.value as number).toBeCloseTo(js.response?.result?.value ?? Number.NaN, 9);
    } finally {
      closeClient(client);
    }

    const ram = lines.get("instance_ram");
    expect(ram).toMatchObject({
      metric: "instance_ram_usage",
      has_value: true,
      unit: "MBy",
      label_name: "resource",
      label_value: "11111111-1111-4111-8111-111111111111",
    });
    expect(ram?.value as number).toBeCloseTo(768, 6);

    const notFound = lines.get("not_found");
    expect(notFound).toMatchObject({
      code: "NOT_FOUND",
      error_reason: "HOST_NOT_FOUND",
      info_reason: "HOST_NOT_FOUND",
      info_domain: "metricsaccess.v1",
      request_id: requestId,
    });
    expect(notFound?.details).toContain('"no-such-host.example"');

    expect(lines.get("invalid_argument")).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: "host: required",
      info_reason: "INVALID_FIELD",
      violated_fields: ["host"],
    });

    // Every call of the Go client is on the service's log under its request id.
    const logged = service.logs.filter((l) => l.requestId === requestId);
    expect(logged.length).toBeGreaterThanOrEqual(4);
  });

  it("prints what the Python grpcio client prints for the same requests", async () => {
    const [go, py] = await Promise.all([
      runGoClient("go-interop-0002"),
      runPythonClient(pyGenDir, `127.0.0.1:${service.app.port}`, "py-interop-0002"),
    ]);
    const valueKeys = [
      "metric",
      "has_value",
      "value",
      "unit",
      "label_name",
      "label_value",
      "query",
      "series_count",
    ];
    const errorKeys = ["code", "details", "error_reason", "info_reason", "info_domain", "violated_fields"];
    const pick = (line: ClientLine | undefined, keys: string[]) =>
      Object.fromEntries(keys.map((k) => [k, line?.[k]]));
    for (const [name, keys] of [
      ["host_cpu", [...valueKeys, "has_result"]],
      ["instance_ram", ["metric", "has_value", "value", "unit", "label_name", "label_value"]],
      ["not_found", errorKeys],
      ["invalid_argument", errorKeys],
    ] as const) {
      expect(go.get(name), name).toBeDefined();
      const expected = pick(py.get(name), [...keys]);
      // The two clients ask at different moments: rate()'s extrapolation moves the last bits.
      if (typeof expected.value === "number") expected.value = expect.closeTo(expected.value, 9);
      expect(pick(go.get(name), [...keys]), name).toEqual(expected);
    }
  });
});

/** Exit code, stdout and stderr of a client run, whether it succeeded or not. */
async function runClient(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, [...args], { cwd: ROOT, timeout: 30_000, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("the published retry policy (examples/service-config.json)", () => {
  // A Prometheus that fails the first query of each round with 503, which the service answers with
  // UNAVAILABLE, and answers every later one: only a client that retries UNAVAILABLE gets a value.
  // A fake upstream, since a real Prometheus cannot be made to fail exactly one query.
  const SERVICE_CONFIG = join(ROOT, "examples", "service-config.json");
  let fake: FaultyPrometheus;
  let flaky: TestApp;
  const failFirstQuery = () => {
    let answered = 0;
    fake.setQuery((_req, res) => {
      answered += 1;
      if (answered === 1) {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("overloaded");
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(vectorBody("compute-1.example", "42"));
      }
    });
  };

  beforeAll(async () => {
    fake = await startFaultyPrometheus({
      hosts: ["compute-1.example"],
      series: ["node_cpu_seconds_total"],
      query: (_req, res) => res.end(),
    });
    flaky = await startTestApp({
      "prometheus_client.host": fake.host,
      "prometheus_client.port": String(fake.port),
    });
  });
  afterAll(async () => {
    await flaky?.stop();
    await fake?.stop();
  });

  const clients = () => {
    const target = `127.0.0.1:${flaky.app.port}`;
    const [python, pythonArgs] = pythonClientCommand(pyGenDir, target, "py-retry");
    return [
      { name: "Go", command: goBinary, args: [target, "go-retry"], env: { PATH: "/usr/bin:/bin" } },
      { name: "Python", command: python, args: pythonArgs, env: { ...PYTHON_CLIENT_ENV } },
    ];
  };

  it("lets the Go and Python clients get the value after a first UNAVAILABLE", async () => {
    for (const client of clients()) {
      failFirstQuery();
      const before = fake.queries;
      const run = await runClient(client.command, client.args, {
        ...client.env,
        METRICS_ACCESS_SERVICE_CONFIG: SERVICE_CONFIG,
        // grpc-go 1.33 (Debian 12) applies a retry policy only when told to.
        GRPC_GO_RETRY: "on",
      });
      const cpu = parseClientLines(run.stdout).get("host_cpu");
      expect(cpu?.value, `${client.name}: ${run.stderr}`).toBe(42);
      expect(fake.queries - before, client.name).toBeGreaterThanOrEqual(2);
    }
  });

  it("without it, the same clients fail on that first UNAVAILABLE", async () => {
    for (const client of clients()) {
      failFirstQuery();
      const run = await runClient(client.command, client.args, client.env);
      expect(run.code, client.name).not.toBe(0);
      expect(parseClientLines(run.stdout).get("host_cpu"), client.name).toBeUndefined();
      expect(run.stderr, client.name).toMatch(/unavailable/i);
    }
  });
});
