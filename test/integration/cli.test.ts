/**
 * The operator CLI as a real process (`node --import tsx src/main.ts COMMAND …`): check-config
 * against the real Prometheus, Keystone and Aetos of the global setup, good and broken; probe
 * against a running service (plaintext and TLS), a NOT_SERVING one, a closed port and a silent
 * one; serve as a named command; help, version and usage errors.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Availability, MetricOrigin } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { aetosPasswordOptions } from "../support/aetos-harness.js";
import { type Options, startTestApp, type TestApp } from "../support/app.js";
import {
  iniText,
  type ProcessResult,
  runMain,
  type ServiceProcess,
  spawnService,
} from "../support/interop-process.js";
import { freePort } from "../support/processes.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const stack = inject("stack");
const START_MS = 20_000;
const RUN_MS = 60_000;

const PROMETHEUS: Options = {
  "watcher_datasources.datasources": "prometheus",
  "prometheus_client.host": stack.prometheus.host,
  "prometheus_client.port": String(stack.prometheus.port),
};
const AETOS: Options = aetosPasswordOptions(stack.keystoneUrl, stack.watcher, {
  "aetos_client.region_name": "RegionOne",
});
/** Every password the test identities have: none may ever reach the output. */
const PASSWORDS = [stack.watcher.password, stack.watcherNoCatalog.password, stack.appCredential.secret];

interface Row {
  readonly check: string;
  readonly status: "ok" | "failed" | "skipped";
  readonly detail: string;
  readonly data?: Record<string, unknown>;
}
interface JsonReport {
  readonly version: string;
  readonly ok: boolean;
  readonly exitCode: number;
  readonly summary: { ok: number; failed: number; skipped: number };
  readonly checks: Row[];
}

function checkConfig(options: Options, flags: readonly string[] = []): Promise<ProcessResult> {
  return runMain(
    { "watcher.conf": iniText(options) },
    { command: ["check-config", ...flags], timeoutMs: RUN_MS },
  );
}

function parseReport(result: ProcessResult): JsonReport {
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as JsonReport;
}

function row(report: JsonReport, check: string): Row {
  const found = report.checks.find((c) => c.check === check);
  if (!found) throw new Error(`no row ${check} in ${JSON.stringify(report.checks.map((c) => c.check))}`);
  return found;
}

/** The table's row for `check`: its status and detail columns. */
function textRow(stdout: string, check: string): { status: string; detail: string } | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith(`${check} `));
  const match = line === undefined ? null : /^\S+(?: \S+)?\s+(ok|failed|skipped)\s+(.*)$/.exec(line);
  return match ? { status: match[1] ?? "", detail: match[2] ?? "" } : undefined;
}

function expectNoSecret(result: ProcessResult, ...more: string[]): void {
  for (const secret of [...PASSWORDS, ...more]) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

function expectRelativelyClose(actual: unknown, expected: number | undefined): void {
  expect(typeof actual).toBe("number");
  const a = actual as number;
  const e = expected ?? Number.NaN;
  expect(Math.abs(a - e)).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(a), Math.abs(e), 1));
}

/** A one-shot command as a real process, with `env` as its whole environment (but PATH and HOME). */
async function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
  const started = performance.now();
  const proc = spawnService(args, env);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), RUN_MS);
  const { code, signal } = await proc.exited;
  clearTimeout(timer);
  return {
    code,
    signal,
    stdout: proc.stdout(),
    stderr: proc.stderr(),
    durationMs: Math.round(performance.now() - started),
  };
}

describe("check-config, direct Prometheus", () => {
  let service: TestApp;
  let report: JsonReport;
  let result: ProcessResult;

  beforeAll(async () => {
    [service, result] = await Promise.all([
      startTestApp(PROMETHEUS),
      checkConfig(PROMETHEUS, ["--json", "--host", "compute-1"]),
    ]);
    report = parseReport(result);
  }, RUN_MS);
  afterAll(async () => {
    await service?.stop();
  });

  it("exits 0 with every check ok or skipped, and says so in the document", () => {
    expect(result.code, result.stdout).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.exitCode).toBe(0);
    expect(report.summary.failed).toBe(0);
    expect(report.checks.map((c) => c.check).slice(0, 5)).toEqual([
      "configuration",
      "prometheus",
      "hosts",
      "metrics",
      "instances",
    ]);
    for (const check of ["configuration", "prometheus", "hosts", "metrics", "instances"]) {
      expect(row(report, check).status, row(report, check).detail).toBe("ok");
    }
    expect(row(report, "configuration").detail).toContain(stack.prometheus.url.replace(/\/$/, ""));
  });

  it("tells Prometheus by its build information, with its version", () => {
    const prometheus = row(report, "prometheus");
    expect(prometheus.detail).toMatch(/^answered GET \/api\/v1\/status\/buildinfo: Prometheus 2\.42\./);
    expect(prometheus.data).toEqual({ backend: "prometheus", version: expect.stringMatching(/^2\.42\./) });
  });

  it("lists exactly the hosts ListHosts answers", async () => {
    const listed = await service.client.listHosts({ pageSize: 1000 });
    expect(row(report, "hosts").data?.hosts).toEqual(listed.hosts.map((h) => h.labelValue));
    expect(row(report, "hosts").detail).toMatch(
      new RegExp(`^${listed.hosts.length} seen through the label fqdn: `),
    );
  });

  it("has one row per metric of ListMetrics, ok where it is available, with its availability", async () => {
    const { metrics } = await service.client.listMetrics({});
    const metricRows = report.checks.filter((c) => c.check.startsWith("metric "));
    expect(metricRows.map((c) => c.check)).toEqual(metrics.map((m) => `metric ${m.name}`));
    const catalogue = row(report, "metrics").data?.metrics as { name: string; available: boolean | null }[];
    for (const metric of metrics) {
      const available = metric.availability === Availability.AVAILABLE;
      expect(catalogue.find((c) => c.name === metric.name)?.available).toBe(available);
      // Built-ins only here: an absent series would be skipped, never failed.
      expect(metric.origin).toBe(MetricOrigin.BUILT_IN);
      expect(row(report, `metric ${metric.name}`).status).toBe(available ? "ok" : "skipped");
    }
  });

  it("asks --host by its short name, and gets GetHostMetric's numbers for it", async () => {
    const cpu = row(report, "metric host_cpu_usage");
    expect(cpu.data?.labelValue).toBe("compute-1.example");
    expect(cpu.detail).toBe("31.25 % for compute-1.example");
    for (const check of report.checks.filter((c) => c.data?.subject === "host" && c.data.value !== null)) {
      const metric = String(check.data?.metric);
      const answer = await service.client.getHostMetric({ host: "compute-1.example", metric });
      expect(check.data?.query, metric).toBe(answer.result?.query);
      expectRelativelyClose(check.data?.value, answer.result?.value);
    }
  });

  it("finds an instance in an instance metric's answer, and gets GetInstanceMetric's numbers for it", async () => {
    const instance = row(report, "metric instance_ram_usage").data?.labelValue;
    expect(row(report, "instances").detail).toContain(`asking ${String(instance)}`);
    const answered = report.checks.filter((c) => c.data?.subject === "instance" && c.data.value !== null);
    expect(answered.length).toBeGreaterThan(0);
    for (const check of answered) {
      const metric = String(check.data?.metric);
      const answer = await service.client.getInstanceMetric({
        instanceId: String(instance),
        metric,
        vcpus: 1,
      });
      expect(check.data?.labelValue).toBe(instance);
      expect(check.data?.query, metric).toBe(answer.result?.query);
      expectRelativelyClose(check.data?.value, answer.result?.value);
    }
  });
});

describe("check-config, the table", () => {
  it(
    "prints one aligned row per check and a summary, on a good configuration without --host",
    async () => {
      const result = await checkConfig(PROMETHEUS);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const lines = result.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^CHECK\s+STATUS\s+DETAIL$/);
      const statusColumn = lines[0]?.indexOf("STATUS") ?? -1;
      const detailColumn = lines[0]?.indexOf("DETAIL") ?? -1;
      for (const line of lines.slice(1, -2)) {
        expect(line.slice(statusColumn), line).toMatch(/^(ok|failed|skipped) +\S/);
        expect(line.charAt(detailColumn - 1), line).toBe(" ");
        expect(line.charAt(detailColumn), line).not.toBe(" ");
      }
      expect(textRow(result.stdout, "prometheus")).toEqual({
        status: "ok",
        detail: expect.stringMatching(/^answered GET \/api\/v1\/status\/buildinfo: Prometheus 2\.42\./),
      });
      expect(textRow(result.stdout, "metric host_cpu_usage")?.status).toBe("ok");
      expect(lines.at(-1)).toMatch(/^\d+ checks: \d+ ok, 0 failed, \d+ skipped$/);
    },
    RUN_MS,
  );
});

describe("check-config through Aetos", () => {
  it(
    "authenticates, finds metric-storage in the catalog, reaches Aetos, and runs the metrics",
    async () => {
      const result = await checkConfig(AETOS, ["--json"]);
      expect(result.code, result.stdout).toBe(0);
      const report = parseReport(result);
      expect(row(report, "keystone")).toMatchObject({
        status: "ok",
        detail:
          'issued a token to user "watcher" in domain id "default", project "service" in domain id "default"',
      });
      expect(row(report, "catalog").status).toBe("ok");
      expect(row(report, "catalog").detail).toBe(
        `metric-storage endpoint ${stack.aetosUrl} (interface public, region RegionOne)`,
      );
      expect(row(report, "aetos")).toMatchObject({ status: "ok", detail: "answered a query with the token" });
      expect(row(report, "hosts").data?.hosts).toContain("compute-1.example");
      expect(row(report, "metric host_cpu_usage").status).toBe("ok");
      expect(row(report, "metric instance_cpu_usage").status).toBe("ok");
      expect(report.summary.failed).toBe(0);
      expectNoSecret(result);
    },
    RUN_MS,
  );
});

describe("check-config on broken configurations", () => {
  it(
    "Prometheus unreachable: exit 1, the prometheus row names the refusal, what needs it is skipped",
    async () => {
      const port = await freePort();
      const result = await checkConfig({ ...PROMETHEUS, "prometheus_client.port": String(port) });
      expect(result.code, result.stdout).toBe(1);
      const prometheus = textRow(result.stdout, "prometheus");
      expect(prometheus?.status).toBe("failed");
      expect(prometheus?.detail).toMatch(/^Prometheus could not be reached .*ECONNREFUSED/);
      expect(textRow(result.stdout, "configuration")?.detail).toContain(`:${port}`);
      for (const check of ["hosts", "metrics", "instances"]) {
        expect(textRow(result.stdout, check)).toEqual({
          status: "skipped",
          detail: "not tried: Prometheus does not answer",
        });
      }
      expect(result.stdout).toMatch(/\n\d+ checks: 1 ok, 1 failed, 3 skipped\n$/);
    },
    RUN_MS,
  );

  it(
    "Aetos missing from the project's catalog: exit 1, keystone ok, catalog names what it lacks",
    async () => {
      const options = aetosPasswordOptions(stack.keystoneUrl, stack.watcherNoCatalog);
      const result = await checkConfig(options, ["--json"]);
      expect(result.code, result.stdout).toBe(1);
      const report = parseReport(result);
      expect(report.exitCode).toBe(1);
      expect(row(report, "keystone").status).toBe("ok");
      expect(row(report, "catalog").status).toBe("failed");
      expect(row(report, "catalog").detail).toMatch(
        /^no metric-storage endpoint for interface public in any region .*holds: identity/,
      );
      expect(row(report, "aetos")).toMatchObject({ status: "skipped" });
      expect(row(report, "hosts")).toMatchObject({
        status: "skipped",
        detail: "not tried: no Aetos endpoint",
      });
      expectNoSecret(result);
    },
    RUN_MS,
  );

  it(
    "a region without a metric-storage endpoint: exit 1, the catalog row names the region",
    async () => {
      const result = await checkConfig({ ...AETOS, "aetos_client.region_name": "RegionThree" });
      expect(result.code, result.stdout).toBe(1);
      expect(textRow(result.stdout, "keystone")?.status).toBe("ok");
      const catalog = textRow(result.stdout, "catalog");
      expect(catalog?.status).toBe("failed");
      expect(catalog?.detail).toMatch(
        /^no metric-storage endpoint for interface public in region RegionThree/,
      );
      expectNoSecret(result);
    },
    RUN_MS,
  );

  it(
    "a wrong password: exit 1, keystone names the refused credentials, neither password is printed",
    async () => {
      const wrong = "not-the-watcher-password-9f2c";
      const result = await checkConfig({ ...AETOS, "watcher_clients_auth.password": wrong });
      expect(result.code, result.stdout).toBe(1);
      expect(textRow(result.stdout, "keystone")).toEqual({
        status: "failed",
        detail: `Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for user "${stack.watcher.username}" in domain id "${stack.watcher.userDomainId}", project "${stack.watcher.projectName}" in domain id "${stack.watcher.projectDomainId}"`,
      });
      expect(textRow(result.stdout, "catalog")?.status).toBe("skipped");
      expect(textRow(result.stdout, "hosts")).toEqual({
        status: "skipped",
        detail: "not tried: no Keystone token",
      });
      expectNoSecret(result, wrong);
    },
    RUN_MS,
  );

  it(
    "an invalid configuration: exit 2, every problem listed, the secret never echoed, JSON too",
    async () => {
      const secret = "an-invalid-config-secret-77";
      const options = {
        "watcher_datasources.datasources": "aetos",
        "watcher_clients_auth.auth_type": "password",
        "watcher_clients_auth.password": secret,
        "metrics_access.listen": "nowhere",
      };
      const text = await checkConfig(options);
      expect(text.code).toBe(2);
      expect(textRow(text.stdout, "configuration")?.status).toBe("failed");
      expect(text.stdout).toContain("[watcher_clients_auth] auth_url: required for the aetos datasource");
      expect(text.stdout).toContain("[metrics_access] listen");
      expectNoSecret(text, secret);
      const json = await checkConfig(options, ["--json"]);
      expect(json.code).toBe(2);
      const report = parseReport(json);
      expect(report.exitCode).toBe(2);
      expect(report.checks).toHaveLength(1);
      expect(row(report, "configuration").data?.problems).toEqual(
        expect.arrayContaining(["[watcher_clients_auth] auth_url: required for the aetos datasource"]),
      );
      expectNoSecret(json, secret);
    },
    RUN_MS,
  );
});

describe("probe", () => {
  let dir: string;
  let pki: TestPki;
  let plain: ServiceProcess;
  let plainPort: number;
  const processes: ServiceProcess[] = [];

  const serve = async (env: NodeJS.ProcessEnv): Promise<[ServiceProcess, number]> => {
    const proc = spawnService(["serve"], {
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.1:0",
      METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: stack.prometheus.host,
      METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(stack.prometheus.port),
      ...env,
    });
    processes.push(proc);
    return [proc, await proc.serving(START_MS)];
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "metrics-access-cli-"));
    pki = await createTestPki();
    [plain, plainPort] = await serve({});
  }, RUN_MS);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await Promise.all([rm(dir, { recursive: true, force: true }), pki?.remove()]);
  });

  it(
    "exits 0 with one line naming SERVING against the running service (--address)",
    async () => {
      const result = await run(["probe", "--address", `127.0.0.1:${plainPort}`]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(`^SERVING: 127\\.0\\.0\\.1:${plainPort} answered the gRPC health check in \\d+ ms\\n$`),
      );
      expect(result.stderr).toBe("");
      expect(plain.child.exitCode).toBeNull();
    },
    RUN_MS,
  );

  it(
    "dials listen as serve reads it: from the environment, or from a file with nothing else in it",
    async () => {
      const fromEnv = await run(["probe"], {
        METRICS_ACCESS__METRICS_ACCESS__LISTEN: `127.0.0.1:${plainPort}`,
      });
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
      // 0.0.0.0 is dialled as 127.0.0.1; a file serve would refuse (no datasource) is enough for probe.
      const conf = join(dir, "listen-only.conf");
      await writeFile(conf, `[metrics_access]\nlisten = 0.0.0.0:${plainPort}\n`);
      const fromFile = await run(["probe"], { METRICS_ACCESS_CONFIG_FILE: conf });
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(fromFile.stdout).toContain(`127.0.0.1:${plainPort}`);
      const withFlag = await run(["probe", "--config-file", conf]);
      expect(withFlag.code, withFlag.stderr).toBe(0);
    },
    RUN_MS,
  );

  it(
    "with no configuration at all, dials the default 127.0.0.1:50051 and never exits 2",
    async () => {
      const result = await run(["probe", "--timeout", "1000"]);
      expect([0, 1]).toContain(result.code);
      expect(result.stdout + result.stderr).toContain("127.0.0.1:50051");
    },
    RUN_MS,
  );

  it(
    "exits 1 against a closed port, naming the address and the refusal",
    async () => {
      const port = await freePort();
      const result = await run(["probe", "--address", `127.0.0.1:${port}`]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        `127.0.0.1:${port}: the gRPC health check failed: Unavailable: connect ECONNREFUSED 127.0.0.1:${port}\n`,
      );
    },
    RUN_MS,
  );

  it(
    "exits 1 with NOT_SERVING when the service's upstream does not answer",
    async () => {
      const [, port] = await serve({ METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(await freePort()) });
      const result = await run(["probe", "--address", `127.0.0.1:${port}`]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^NOT_SERVING: 127\.0\.0\.1:\d+ answered the gRPC health check in \d+ ms\n$/,
      );
    },
    RUN_MS,
  );

  describe("against a port that accepts and never answers", () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it(
      "gives up after --timeout and exits 1 saying so",
      async () => {
        const address = silent.address();
        const port = typeof address === "object" && address ? address.port : 0;
        const result = await run(["probe", "--address", `127.0.0.1:${port}`, "--timeout", "300"]);
        expect(result.code).toBe(1);
        expect(result.stderr).toBe(`127.0.0.1:${port}: no answer to the gRPC health check within 300 ms\n`);
        // The process start (tsx) dominates; the probe itself must not wait much past its timeout.
        expect(result.durationMs).toBeLessThan(10_000);
      },
      RUN_MS,
    );
  });

  it(
    "speaks TLS to a TLS server when tls_certfile and tls_keyfile are set, as serve reads them",
    async () => {
      const tls = {
        METRICS_ACCESS__METRICS_ACCESS__TLS_CERTFILE: pki.serverCertFile,
        METRICS_ACCESS__METRICS_ACCESS__TLS_KEYFILE: pki.serverKeyFile,
      };
      const [, port] = await serve(tls);
      const listen = { METRICS_ACCESS__METRICS_ACCESS__LISTEN: `127.0.0.1:${port}` };
      const secure = await run(["probe"], { ...listen, ...tls });
      expect(secure.code, secure.stderr).toBe(0);
      expect(secure.stdout).toMatch(/^SERVING: /);
      // The same port without the TLS options: plaintext HTTP/2 gets no answer from a TLS server.
      const plaintext = await run(["probe", "--timeout", "1500"], listen);
      expect(plaintext.code).toBe(1);
    },
    RUN_MS,
  );
});

describe("serve, help, version, usage errors", () => {
  it(
    "serve as a named command serves and stops on SIGTERM with 0",
    async () => {
      const proc = spawnService(["serve"], {
        METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.1:0",
        METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: stack.prometheus.host,
        METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(stack.prometheus.port),
      });
      try {
        const port = await proc.serving(START_MS);
        const probe = await run(["probe", "--address", `127.0.0.1:${port}`]);
        expect(probe.code, probe.stderr).toBe(0);
        proc.child.kill("SIGTERM");
        expect((await proc.exited).code, proc.stderr()).toBe(0);
      } finally {
        await proc.kill();
      }
    },
    RUN_MS,
  );

  it(
    "--version prints package.json's version",
    async () => {
      const { version } = JSON.parse(
        readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
      ) as {
        version: string;
      };
      const result = await run(["--version"]);
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: "" });
    },
    RUN_MS,
  );

  it(
    "--help lists the commands; each command's --help its options",
    async () => {
      const global = await run(["--help"]);
      expect(global.code).toBe(0);
      expect(global.stdout).toMatch(/^ {2}serve {2,}/m);
      expect(global.stdout).toMatch(/^ {2}check-config {2,}/m);
      expect(global.stdout).toMatch(/^ {2}probe {2,}/m);
      const probe = await run(["probe", "--help"]);
      expect(probe.code).toBe(0);
      expect(probe.stdout).toContain("--address HOST:PORT");
      expect(probe.stdout).toContain("--timeout MS");
      const check = await run(["check-config", "-h"]);
      expect(check.stdout).toContain("--json");
    },
    RUN_MS,
  );

  it(
    "an unknown command or option exits 2 naming it, before reading any configuration",
    async () => {
      const command = await run(["chek-config"]);
      expect(command.code).toBe(2);
      expect(command.stdout).toBe("");
      expect(command.stderr).toContain('unknown command "chek-config"');
      const option = await run(["check-config", "--jason"]);
      expect(option.code).toBe(2);
      expect(option.stderr).toContain('check-config: unknown option "--jason"');
    },
    RUN_MS,
  );
});
