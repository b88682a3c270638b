/**
 * The service on a unix socket ([metrics_access] listen = unix:/path), against the real test
 * Prometheus: called by grpc-js (`unix:///path`, as grpcio and grpc-go spell it) and by
 * `metrics-access probe` as a process, plaintext and TLS; the socket's mode, its removal at stop,
 * and a socket file left by a killed process replaced at the next start.
 */
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type Options, startTestApp, type TestApp } from "../support/app.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";
import { iniText, runMain, type ServiceProcess, spawnService } from "../support/interop-process.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const stack = inject("stack");
const RUN_MS = 60_000;
const PROMETHEUS: Options = {
  "prometheus_client.host": stack.prometheus.host,
  "prometheus_client.port": String(stack.prometheus.port),
};
const REQUEST = { host: "compute-1.example", metric: "host_cpu_usage" } as const;

let dir: string;
let pki: TestPki;
const apps: TestApp[] = [];
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  // Under /tmp: a socket path must stay within 107 bytes.
  dir = await mkdtemp(join(tmpdir(), "ma-unix-"));
  pki = await createTestPki({ prefix: "ma-unix-pki-" });
});
afterAll(async () => {
  await Promise.all([...apps.map((a) => a.stop()), ...processes.map((p) => p.kill())]);
  await Promise.all([rm(dir, { recursive: true, force: true }), pki?.remove()]);
});

async function serveOn(path: string, extra: Options = {}): Promise<TestApp> {
  const app = await startTestApp({ ...PROMETHEUS, "metrics_access.listen": `unix:${path}`, ...extra });
  apps.push(app);
  return app;
}

/** `metrics-access probe` as a process, with `listen` (and more) in a config file, and `args`. */
function probe(options: Options, args: readonly string[] = []): ReturnType<typeof runMain> {
  return runMain(
    { "probe.conf": iniText(options) },
    { command: ["probe", "--timeout", "5000", ...args], timeoutMs: RUN_MS },
  );
}

describe("a unix socket", () => {
  let path: string;
  let service: TestApp;
  beforeAll(async () => {
    path = join(dir, "grpc.sock");
    service = await serveOn(path);
  }, RUN_MS);

  it("logs where it serves, as listen spells it, and makes the socket owner-and-group only", () => {
    expect(service.logs).toContainEqual(
      expect.objectContaining({
        msg: "serving gRPC, gRPC-Web and Connect",
        listen: `unix:${path}`,
        tls: false,
      }),
    );
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o660);
  });

  it("answers grpc-js dialling unix:///path, metrics and health alike", async () => {
    const client = grpcClient(`unix://${path}`);
    try {
      const out = await unary(client, MetricsService.method.getHostMetric, REQUEST, { timeoutMs: 10_000 });
      expect(out.code, out.details).toBe(grpc.status.OK);
      expect(out.response?.result?.value).toBeCloseTo(31.25, 6);
      const health = await unary(client, Health.method.check, { service: "" }, { timeoutMs: 10_000 });
      expect(health.response?.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      closeClient(client);
    }
  });

  it(
    "is probed by metrics-access probe reading listen, and a missing socket exits 1 naming it",
    async () => {
      const serving = await probe({ "metrics_access.listen": `unix:${path}` });
      expect(serving.code, serving.stderr).toBe(0);
      expect(serving.stdout).toMatch(
        new RegExp(
          `^SERVING: unix:${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} answered the gRPC health check in \\d+ ms\\n$`,
        ),
      );
      // --address dials a socket too, whatever listen says.
      const addressed = await probe({ "metrics_access.listen": "127.0.0.1:9" }, [
        "--address",
        `unix:${path}`,
      ]);
      expect(addressed.code, addressed.stderr).toBe(0);
      expect(addressed.stdout).toContain(`SERVING: unix:${path} answered`);
      const missing = join(dir, "nobody.sock");
      const absent = await probe({ "metrics_access.listen": `unix://${missing}` });
      expect(absent.code).toBe(1);
      expect(absent.stderr).toBe(
        `unix:${missing}: the gRPC health check failed: Unavailable: connect ENOENT ${missing}\n`,
      );
    },
    RUN_MS,
  );

  it(
    "speaks TLS on a socket too, and the probe follows the TLS options",
    async () => {
      const tlsPath = join(dir, "tls.sock");
      const tls = {
        "metrics_access.tls_certfile": pki.serverCertFile,
        "metrics_access.tls_keyfile": pki.serverKeyFile,
      };
      await serveOn(tlsPath, tls);
      const client = grpcClient(`unix://${tlsPath}`, grpc.credentials.createSsl(pki.ca));
      try {
        // grpc-js names the socket's target "localhost", which the test certificate carries.
        const out = await unary(client, MetricsService.method.getHostMetric, REQUEST, { timeoutMs: 10_000 });
        expect(out.code, out.details).toBe(grpc.status.OK);
      } finally {
        closeClient(client);
      }
      const secure = await probe({ "metrics_access.listen": `unix:${tlsPath}`, ...tls });
      expect(secure.code, secure.stderr).toBe(0);
      expect(secure.stdout).toMatch(/^SERVING: unix:/);
    },
    RUN_MS,
  );

  it("removes the socket at stop", async () => {
    const stopPath = join(dir, "stop.sock");
    const app = await serveOn(stopPath);
    expect(statSync(stopPath).isSocket()).toBe(true);
    await app.stop();
    expect(() => statSync(stopPath)).toThrow(/ENOENT/);
  });
});

describe("a socket file left by a killed process", () => {
  /** Waits for the "serving" line of a process on a unix socket. */
  async function servingOn(proc: ServiceProcess, path: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const lines = proc
        .stdout()
        .split("\n")
        .slice(0, -1)
        .filter((l) => l.startsWith("{"));
      if (lines.some((l) => (JSON.parse(l) as { listen?: unknown }).listen === `unix:${path}`)) return;
      if (proc.child.exitCode !== null) throw new Error(`exited before serving:\n${proc.stderr()}`);
      if (Date.now() > deadline)
        throw new Error(`did not serve in time:\n${proc.stderr()}\n${proc.stdout()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const spawnOn = (path: string) => {
    const proc = spawnService(["serve"], {
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: `unix:${path}`,
      METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: stack.prometheus.host,
      METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(stack.prometheus.port),
    });
    processes.push(proc);
    return proc;
  };

  it(
    "is replaced at the next start, while one somebody answers on is refused",
    async () => {
      const path = join(dir, "killed.sock");
      const first = spawnOn(path);
      await servingOn(first, path);
      // A second instance on the same path: the first answers there, so it must not be taken over.
      const second = spawnOn(path);
      expect((await second.exited).code, second.stderr()).toBe(1);
      expect(second.stderr()).toBe(
        `metrics-access: cannot start: [metrics_access] listen unix:${path}: cannot listen (EADDRINUSE)\n`,
      );
      await first.kill(); // SIGKILL: no chance to remove the socket
      expect(statSync(path).isSocket()).toBe(true);
      const third = spawnOn(path);
      await servingOn(third, path);
      const answer = await probe({ "metrics_access.listen": `unix:${path}` });
      expect(answer.code, answer.stderr).toBe(0);
      third.child.kill("SIGTERM");
      expect((await third.exited).code, third.stderr()).toBe(0);
      expect(() => statSync(path)).toThrow(/ENOENT/);
    },
    RUN_MS,
  );
});
