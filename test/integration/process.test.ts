/**
 * The real entry point as a process (`node --import tsx src/main.ts`): exit codes for bad
 * configuration and a taken address, serving from a watcher.conf, and a SIGTERM that drains the
 * call in flight before exiting 0.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type FakePrometheus, startFakePrometheus } from "../support/interop-fake-prometheus.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";
import { type ServiceProcess, spawnService } from "../support/interop-process.js";

const stack = inject("stack");
const START_MS = 20_000;

let dir: string;
const processes: ServiceProcess[] = [];

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): ServiceProcess {
  const proc = spawnService(args, env);
  processes.push(proc);
  return proc;
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "metrics-access-process-"));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await rm(dir, { recursive: true, force: true });
});

describe("invalid configuration", () => {
  it("exits 2 naming every problem: a bad port from the environment and an unknown option", async () => {
    const conf = await file(
      "typo.conf",
      "[metrics_access]\nlisten = 127.0.0.1:0\nlisten_adress = 0.0.0.0:1\n\n[prometheus_client]\nhost = 127.0.0.1\n",
    );
    const proc = start(["--config-file", conf], {
      METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: "abc",
      METRICS_ACCESS__PROMETHEUS_CLIENT__HOSTNAME: "x",
    });
    const { code } = await proc.exited;
    expect(code, proc.stderr()).toBe(2);
    const stderr = proc.stderr();
    expect(stderr).toContain("[prometheus_client] port");
    expect(stderr).toContain("METRICS_ACCESS__PROMETHEUS_CLIENT__PORT");
    expect(stderr).toContain("[metrics_access] listen_adress");
    expect(stderr).toContain("METRICS_ACCESS__PROMETHEUS_CLIENT__HOSTNAME");
    // Nothing was started: no log line, no listening socket.
    expect(proc.stdout()).toBe("");
  });

  it("exits 2 when both prometheus and aetos are configured, naming both", async () => {
    const conf = await file(
      "both.conf",
      "[watcher_datasources]\ndatasources = prometheus, aetos\n\n[prometheus_client]\nhost = 127.0.0.1\n",
    );
    const proc = start(["--config-file", conf], { METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.1:0" });
    const { code } = await proc.exited;
    expect(code, proc.stderr()).toBe(2);
    const problem = proc
      .stderr()
      .split("\n")
      .find((l) => l.includes("[watcher_datasources] datasources"));
    expect(problem).toBeDefined();
    expect(problem).toContain("prometheus");
    expect(problem).toContain("aetos");
  });

  it("exits 2 for a config file that cannot be read", async () => {
    const proc = start(["--config-file", join(dir, "missing.conf")]);
    const { code } = await proc.exited;
    expect(code).toBe(2);
    expect(proc.stderr()).toContain("missing.conf");
  });
});

describe("caller authentication none beyond loopback", () => {
  const prometheus = () => ({
    METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: stack.prometheus.host,
    METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(stack.prometheus.port),
  });

  it("refuses to listen on every interface: exit 2 naming listen and the option that allows it", async () => {
    const proc = start([], { ...prometheus(), METRICS_ACCESS__METRICS_ACCESS__LISTEN: "0.0.0.0:0" });
    const { code } = await proc.exited;
    expect(code, proc.stderr()).toBe(2);
    expect(proc.stderr()).toContain('[metrics_access] listen "0.0.0.0:0": with caller_auth = none');
    expect(proc.stderr()).toContain("allow_unauthenticated_network = true");
  });

  it("listens on every interface when allowed, and says so in a warning at start", async () => {
    const proc = start([], {
      ...prometheus(),
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: "0.0.0.0:0",
      METRICS_ACCESS__METRICS_ACCESS__ALLOW_UNAUTHENTICATED_NETWORK: "true",
    });
    const port = await proc.serving(START_MS);
    const client = createClient(MetricsService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    expect((await client.listHosts({})).hosts.length).toBeGreaterThan(0);
    const warning = proc.logLines().find((line) => line.level === "warn");
    expect(warning?.msg).toMatch(/^serving beyond loopback without caller authentication/);
    expect(warning?.listen).toBe(`0.0.0.0:${port}`);
    proc.child.kill("SIGTERM");
    expect((await proc.exited).code).toBe(0);
  });
});

describe("serving from a watcher.conf", () => {
  it("reads the sections it knows, ignores the others, serves, and stops on SIGTERM with 0", async () => {
    const conf = await file(
      "watcher.conf",
      [
        "[DEFAULT]",
        "debug = true",
        "transport_url = rabbit://openstack:secret@rabbit:5672/",
        "",
        "[database]",
        "connection = mysql+pymysql://watcher:secret@db/watcher?charset=utf8",
        "",
        "[watcher_clients_auth]",
        "auth_type = password",
        "auth_url = http://keystone.invalid:5000/v3",
        "username = watcher",
        "password = secret",
        "user_domain_name = Default",
        "project_name = service",
        "project_domain_name = Default",
        "",
        "[watcher_datasources]",
        "datasources = prometheus",
        "",
        "[prometheus_client]",
        `host = ${stack.prometheus.host}`,
        `port = ${stack.prometheus.port}`,
        "fqdn_label = fqdn",
        "",
        "[oslo_messaging_notifications]",
        "driver = messagingv2",
        "",
        "[metrics_access]",
        "listen = 127.0.0.1:0",
        "",
      ].join("\n"),
    );
    const proc = start([`--config-file=${conf}`]);
    const port = await proc.serving(START_MS);
    const client = createClient(MetricsService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const res = await client.getHostMetric({ host: "compute-1.example", metric: "host_cpu_usage" });
    expect(res.result?.value).toBeCloseTo(31.25, 6);
    const hosts = await client.listHosts({});
    expect(hosts.hosts.map((h) => h.labelValue)).toContain("compute-2.example");

    proc.child.kill("SIGTERM");
    const { code } = await proc.exited;
    expect(code, proc.stderr()).toBe(0);
    // No secret of the file reached the log.
    expect(proc.stdout()).not.toContain("secret");
  });
});

describe("SIGTERM while a call is in flight", () => {
  let fake: FakePrometheus;

  beforeAll(async () => {
    fake = await startFakePrometheus({ query: { kind: "slow", delayMs: 1_500, value: "42.5" } });
  });
  afterAll(async () => {
    await fake?.stop();
  });

  it("lets the call finish, reports NOT_SERVING or refuses new calls, and exits 0", async () => {
    const proc = start([], {
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.1:0",
      METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: fake.host,
      METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(fake.port),
    });
    const port = await proc.serving(START_MS);
    const client = createClient(MetricsService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));

    const arrived = fake.nextQuery(5_000);
    const started = performance.now();
    const inFlight = client.getHostMetric(
      { host: "compute-1.example", metric: "host_cpu_usage" },
      { headers: { "x-request-id": "drain-me" } },
    );
    await arrived;
    proc.child.kill("SIGTERM");

    // While it drains: a new health check sees NOT_SERVING, or is not let in at all.
    await new Promise((r) => setTimeout(r, 200));
    const health = grpcClient(`127.0.0.1:${port}`);
    try {
      const check = await unary(health, Health.method.check, { service: "" }, { timeoutMs: 1_000 });
      if (check.code === grpc.status.OK) {
        expect(check.response?.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      } else {
        expect(check.code, check.details).toBe(grpc.status.UNAVAILABLE);
      }
    } finally {
      closeClient(health);
    }

    const res = await inFlight;
    expect(res.result?.value).toBe(42.5);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_400);

    const { code } = await proc.exited;
    expect(code, proc.stderr()).toBe(0);

    // stdout is JSON lines only; the call's line carries its request id.
    const lines = proc.logLines();
    const call = lines.find((l) => l.requestId === "drain-me");
    expect(call).toMatchObject({
      msg: "call",
      code: "ok",
      rpc: "metricsaccess.v1.MetricsService/GetHostMetric",
    });
    const messages = lines.map((l) => l.msg);
    expect(messages).toContain("stopping: draining calls in flight");
    expect(messages.indexOf("stopped")).toBeGreaterThan(lines.indexOf(call ?? {}));
  });
});

describe("listen address already in use", () => {
  let blocker: Server;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  it("exits 1", async () => {
    const address = blocker.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const proc = start([], {
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: `127.0.0.1:${port}`,
      METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: stack.prometheus.host,
      METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(stack.prometheus.port),
    });
    const { code } = await proc.exited;
    expect(code, proc.stderr()).toBe(1);
    expect(proc.stderr()).toContain("cannot start");
    // The operator learns why from the fatal log line.
    const fatal = proc.logLines().find((l) => l.level === "fatal");
    expect(JSON.stringify(fatal)).toContain("EADDRINUSE");
  });
});
