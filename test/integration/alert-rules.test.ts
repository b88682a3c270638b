/**
 * deploy/prometheus/alerts.yml against the real Prometheus tools and the real service.
 *
 *  1. `promtool check rules` accepts the file.
 *  2. `promtool test rules alerts.test.yml` passes; that file has a case in which each alert fires,
 *     and its input series carry the names and label names the service really exports (read from
 *     real /metrics scrapes below), so those cases test the service's series, not invented ones.
 *  3. A real Prometheus of this file's own loads the rules (evaluated every second) and scrapes,
 *     as job "metrics-access", the admin ports of service instances put in the situations the
 *     alerts are about: Prometheus unreachable (with calls failing UNAVAILABLE), Prometheus slow
 *     (calls take 3 s), Keystone refusing to authenticate again after a 401 from Aetos, Keystone
 *     failing to renew a token near its expiry, a target nobody listens on, and the real process
 *     (`node --import tsx src/main.ts`) started four times on one admin port. Healthy instances,
 *     direct and through the real Keystone and Aetos of the shared stack, are scraped beside them.
 *     The alerts that become active (pending or firing: `for` is not waited out) must be exactly
 *     the expected ones, per instance and with their distinguishing labels; the healthy instances
 *     must have none. Every rule must evaluate without error, and every metric name a rule reads
 *     must be `up` or one that a real /metrics scrape shows.
 *
 * Keystone and Aetos misbehaving on demand are small HTTP stand-ins in this file (a real Keystone
 * cannot be told to refuse the next authentication, nor to issue a token that is already due for
 * renewal); the token they issue for the renewal case is used against the shared real Prometheus.
 * Everything the alerts read is produced by the service's own code.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readPromql } from "../../src/metrics/promql-parse.js";
import { aetosPasswordOptions, type PasswordUser } from "../support/aetos-harness.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { type FakePrometheus, startFakePrometheus } from "../support/interop-fake-prometheus.js";
import { type ServiceProcess, spawnService } from "../support/interop-process.js";
import {
  freePort,
  httpOk,
  type RunningProcess,
  spawnLogged,
  waitUntil,
  waitUntilOrStop,
  withPortRetry,
} from "../support/processes.js";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RULES_DIR = join(ROOT, "deploy", "prometheus");
const RULES = join(RULES_DIR, "alerts.yml");
const RULE_TESTS = join(RULES_DIR, "alerts.test.yml");
const JOB = "metrics-access";
const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;

const rulesText = readFileSync(RULES, "utf8");
const ruleTestsText = readFileSync(RULE_TESTS, "utf8");
const ALERT_NAMES = [...rulesText.matchAll(/^\s*- alert: (\w+)\s*$/gm)].map((m) => m[1] ?? "").sort();

describe("deploy/prometheus/alerts.yml with promtool", () => {
  it("has alerts, and promtool check rules accepts them all", async () => {
    expect(ALERT_NAMES.length).toBeGreaterThan(0);
    const { stdout } = await execFileAsync("promtool", ["check", "rules", RULES]);
    expect(stdout).toContain(`SUCCESS: ${ALERT_NAMES.length} rules found`);
  });

  it("passes promtool test rules alerts.test.yml, which makes every alert fire", async () => {
    const { stdout } = await execFileAsync("promtool", ["test", "rules", "alerts.test.yml"], {
      cwd: RULES_DIR,
    });
    expect(stdout).toContain("SUCCESS");
    const firing = new Set(
      [...ruleTestsText.matchAll(/alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels:/g)].map((m) => m[1]),
    );
    expect([...firing].sort()).toEqual(ALERT_NAMES);
  });
});

/** A stand-in for Keystone: the first authentication gets a token, every later one `thenStatus`. */
interface FakeKeystone {
  readonly authUrl: string;
  close(): Promise<void>;
}

async function listening(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function startFakeKeystone(options: {
  /** The metric-storage URL in the token's catalog. */
  readonly endpoint: string;
  readonly expiresInSec: number;
  readonly thenStatus: number;
}): Promise<FakeKeystone> {
  let issued = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.once("end", () => {
      if (req.method !== "POST" || req.url !== "/v3/auth/tokens") {
        answer(res, 404, { error: { code: 404, message: "not here" } });
        return;
      }
      issued += 1;
      if (issued > 1) {
        answer(res, options.thenStatus, {
          error: { code: options.thenStatus, message: "refused by the test" },
        });
        return;
      }
      const token = {
        expires_at: new Date(Date.now() + options.expiresInSec * 1000).toISOString(),
        roles: [{ name: "admin" }],
        catalog: [
          {
            type: "metric-storage",
            name: "aetos",
            endpoints: [{ interface: "public", region_id: "RegionOne", url: options.endpoint }],
          },
        ],
      };
      answer(res, 201, { token }, { "x-subject-token": `test-token-${issued}` });
    });
  });
  const port = await listening(server);
  return { authUrl: `http://127.0.0.1:${port}/v3`, close: () => closeServer(server) };
}

const FAKE_USER: PasswordUser = {
  username: "watcher",
  password: "not-a-real-password",
  projectName: "service",
  userDomainId: "default",
  projectDomainId: "default",
};

/** An active alert as compared here: its name and the labels that tell its series apart. */
function describeAlert(labels: Record<string, string>): string {
  const keys = ["backend", "outcome", "grpc_code", "grpc_method"].filter((k) => labels[k] !== undefined);
  const inner = keys.map((k) => `${k}=${labels[k]}`).join(",");
  return `${labels.alertname}${inner === "" ? "" : `{${inner}}`}`;
}

/** Metric names a /metrics text exposes: every family, and a histogram's _bucket, _count and _sum. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = "", type] = m;
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) names.add(name + suffix);
  }
  return names;
}

/** Label names seen on each sample name of a /metrics text. */
function labelNamesBySample(exposition: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of exposition.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /gm)) {
    const labels = out.get(m[1] ?? "") ?? new Set<string>();
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1] ?? "");
    out.set(m[1] ?? "", labels);
  }
  return out;
}

describe("alerts.yml in a real Prometheus scraping the real service", () => {
  const stack = inject("stack");
  const apps: TestApp[] = [];
  const servers: { close(): Promise<void> }[] = [];
  const processes: ServiceProcess[] = [];
  const load = new AbortController();
  const loops: Promise<void>[] = [];
  let workDir: string | undefined;
  let prometheus: RunningProcess | undefined;
  let promUrl = "";
  let slowPrometheus: FakePrometheus | undefined;
  const instances: Record<string, string> = {};
  const adminOf = (app: TestApp) => `127.0.0.1:${app.app.adminPort}`;

  async function query(
    promql: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data.result;
  }

  /** Calls `call` over and over until the load stops; its outcome does not matter here. */
  function keepCalling(call: () => Promise<unknown>, pauseMs: number): void {
    loops.push(
      (async () => {
        while (!load.signal.aborted) {
          await call().catch(() => {});
          await sleep(pauseMs);
        }
      })(),
    );
  }

  /**
   * The real process, started again and again on one admin port, each start scraped at least once,
   * until Prometheus has seen its start time change three times. The last one is left running.
   */
  async function restartUntilSeen(adminPort: number): Promise<void> {
    const instance = `127.0.0.1:${adminPort}`;
    for (let start = 0; start < 8; start++) {
      await processes.at(-1)?.kill();
      const proc = spawnService([], {
        METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.1:0",
        METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN: instance,
        METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: stack.prometheus.host,
        METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(stack.prometheus.port),
      });
      processes.push(proc);
      await proc.serving(20_000);
      const servingSec = Date.now() / 1000;
      await waitUntil(
        `a scrape of ${instance} after start ${start + 1}`,
        async () => {
          const [sample] = await query(`timestamp(process_start_time_seconds{instance="${instance}"})`);
          return sample !== undefined && Number(sample.value[1]) >= servingSec;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      const [changes] = await query(`changes(process_start_time_seconds{instance="${instance}"}[5m])`);
      if (changes !== undefined && Number(changes.value[1]) >= 3) return;
    }
    throw new Error(`the start time of ${instance} did not change three times in eight starts`);
  }

  beforeAll(async () => {
    workDir = await mkdtemp(join(await ensureDir(join(ROOT, ".run")), "alert-rules-"));
    const direct = {
      "prometheus_client.host": stack.prometheus.host,
      "prometheus_client.port": String(stack.prometheus.port),
    };
    const fast = { "metrics_access.readiness_interval": "0.25" };
    const start = async (name: string, options: Record<string, string>) => {
      const app = await startTestApp(options);
      apps.push(app);
      instances[name] = adminOf(app);
      return app;
    };

    const healthy = await start("healthy", direct);
    const aetos = await start(
      "healthy through Keystone and Aetos",
      aetosPasswordOptions(stack.keystoneUrl, stack.watcher, { "aetos_client.region_name": "RegionOne" }),
    );
    const unreachable = await start("Prometheus unreachable", {
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(await freePort()),
      ...fast,
    });
    slowPrometheus = await startFakePrometheus({ query: { kind: "slow", delayMs: 3_000, value: "1" } });
    const fakePrometheus = slowPrometheus;
    servers.push({ close: () => fakePrometheus.stop() });
    const slow = await start("Prometheus slow", {
      "prometheus_client.host": slowPrometheus.host,
      "prometheus_client.port": String(slowPrometheus.port),
    });

    // Aetos that refuses every token (as after a revocation), and a Keystone that issued the first.
    const refusingAetos = createServer((req, res) => {
      req.resume();
      answer(res, 401, { error: { code: 401, title: "Unauthorized", message: "refused by the test" } });
    });
    const refusingAetosPort = await listening(refusingAetos);
    servers.push({ close: () => closeServer(refusingAetos) });
    const refusingKeystone = await startFakeKeystone({
      endpoint: `http://127.0.0.1:${refusingAetosPort}/prometheus`,
      expiresInSec: 3600,
      thenStatus: 401,
    });
    servers.push(refusingKeystone);
    await start("Keystone refusing", aetosPasswordOptions(refusingKeystone.authUrl, FAKE_USER, fast));

    // A token with less than 120 s left is renewed at every use; Keystone then fails with 503.
    const failingKeystone = await startFakeKeystone({
      endpoint: stack.prometheus.url,
      expiresInSec: 115,
      thenStatus: 503,
    });
    servers.push(failingKeystone);
    await start("Keystone renewal failing", aetosPasswordOptions(failingKeystone.authUrl, FAKE_USER, fast));

    instances["nobody listening"] = `127.0.0.1:${await freePort()}`;
    const restartPort = await freePort();
    instances.restarting = `127.0.0.1:${restartPort}`;

    const config = join(workDir, "prometheus.yml");
    const targets = Object.values(instances).map((t) => JSON.stringify(t));
    await writeFile(
      config,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "rule_files:",
        `  - ${JSON.stringify(RULES)}`,
        "scrape_configs:",
        `  - job_name: ${JOB}`,
        "    static_configs:",
        `      - targets: [${targets.join(", ")}]`,
        "",
      ].join("\n"),
    );
    const dir = workDir;
    prometheus = await withPortRetry(async (port) => {
      const proc = await spawnLogged({
        name: "prometheus-alert-rules",
        command: "prometheus",
        args: [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, "tsdb")}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        logDir: dir,
        cwd: dir,
      });
      await waitUntilOrStop("prometheus /-/ready", () => httpOk(`http://127.0.0.1:${port}/-/ready`), {
        timeoutMs: 30_000,
        intervalMs: 100,
        process: proc,
      });
      promUrl = `http://127.0.0.1:${port}`;
      return proc;
    });

    keepCalling(() => healthy.client.getHostMetric(CPU), 100);
    keepCalling(() => healthy.client.getHostMetric({ ...CPU, host: "no-such-host.example" }), 100);
    keepCalling(() => aetos.client.getHostMetric(CPU), 200);
    keepCalling(() => unreachable.client.getHostMetric(CPU), 50);
    for (let i = 0; i < 6; i++) keepCalling(() => slow.client.getHostMetric(CPU), 0);
    await restartUntilSeen(restartPort);
  }, 120_000);

  afterAll(async () => {
    load.abort();
    await Promise.all(loops);
    await Promise.all(processes.map((p) => p.kill()));
    await Promise.all(apps.map((a) => a.stop()));
    await prometheus?.stop();
    await Promise.all(servers.map((s) => s.close()));
    if (workDir) await rm(join(workDir, "tsdb"), { recursive: true, force: true });
  });

  it("raises exactly the expected alerts on each instance, and none on the healthy ones", async () => {
    const expected: Record<string, string[]> = {
      healthy: [],
      "healthy through Keystone and Aetos": [],
      "Prometheus unreachable": [
        "MetricsAccessGrpcServerErrors{grpc_code=Unavailable}",
        "MetricsAccessNotReady{backend=prometheus}",
        "MetricsAccessUpstreamErrors{backend=prometheus,outcome=transport_error}",
      ],
      "Prometheus slow": ["MetricsAccessSlowCalls{grpc_method=GetHostMetric}"],
      // Without a token no request reaches Aetos after its first 401: the Keystone alert says why.
      "Keystone refusing": [
        "MetricsAccessKeystoneAuthenticationFailing",
        "MetricsAccessUpstreamErrors{backend=keystone,outcome=http_error}",
      ],
      "Keystone renewal failing": [
        "MetricsAccessKeystoneRenewalFailing",
        "MetricsAccessUpstreamErrors{backend=keystone,outcome=http_error}",
      ],
      "nobody listening": ["MetricsAccessDown"],
      restarting: ["MetricsAccessRestarting"],
    };
    const active = async () => {
      const res = await fetch(`${promUrl}/api/v1/alerts`);
      const body = (await res.json()) as { data: { alerts: { labels: Record<string, string> }[] } };
      const byName: Record<string, string[]> = {};
      for (const [name, instance] of Object.entries(instances)) {
        byName[name] = body.data.alerts
          .filter((a) => a.labels.instance === instance && a.labels.job === JOB)
          .map((a) => describeAlert(a.labels))
          .sort();
      }
      return byName;
    };
    let seen: Record<string, string[]> = {};
    await waitUntil(
      "the expected alerts",
      async () => {
        seen = await active();
        return JSON.stringify(seen) === JSON.stringify(expected);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    ).catch(() => {});
    expect(seen).toEqual(expected);
    // Every alert of the file was raised somewhere.
    const raised = new Set(Object.values(seen).flatMap((list) => list.map((a) => a.replace(/\{.*$/, ""))));
    expect([...raised].sort()).toEqual(ALERT_NAMES);
  }, 90_000);

  it("evaluates every rule without error", async () => {
    const res = await fetch(`${promUrl}/api/v1/rules`);
    const body = (await res.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string; type: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(ALERT_NAMES);
    for (const rule of rules) {
      expect({
        name: rule.name,
        type: rule.type,
        health: rule.health,
        lastError: rule.lastError ?? "",
      }).toEqual({
        name: rule.name,
        type: "alerting",
        health: "ok",
        lastError: "",
      });
    }
  });

  it("reads only metric names the service exports (or up), in alerts.yml and in alerts.test.yml", async () => {
    const scrapes = await Promise.all(
      apps.map(async (app) => await (await fetch(`http://${adminOf(app)}/metrics`)).text()),
    );
    const exported = new Set(scrapes.flatMap((text) => [...exportedNames(text)]));
    exported.add("up");
    const res = await fetch(`${promUrl}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: { rules: { name: string; query: string }[] }[] } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBe(ALERT_NAMES.length);
    for (const rule of rules) {
      const read = readPromql(rule.query);
      expect(read.error, rule.name).toBeUndefined();
      expect(read.series.length, rule.name).toBeGreaterThan(0);
      expect(
        read.series.filter((name) => !exported.has(name)),
        rule.name,
      ).toEqual([]);
    }

    // The promtool cases feed series with the real names and the real label names.
    const labels = new Map<string, Set<string>>();
    for (const text of scrapes) {
      for (const [name, set] of labelNamesBySample(text)) {
        labels.set(name, new Set([...(labels.get(name) ?? []), ...set]));
      }
    }
    const inputs = [...ruleTestsText.matchAll(/series: '([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}'/g)];
    expect(inputs.length).toBeGreaterThan(0);
    for (const [, name = "", labelText = ""] of inputs) {
      expect(exported.has(name), `${name} in alerts.test.yml`).toBe(true);
      if (name === "up") continue;
      const used = [...labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)=/g)]
        .map((m) => m[1] ?? "")
        .filter((l) => l !== "job" && l !== "instance")
        .sort();
      expect(used, `label names of ${name} in alerts.test.yml`).toEqual([...(labels.get(name) ?? [])].sort());
    }
  });
});

async function ensureDir(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}
