/**
 * Multi-tenant stores (docs/configuration.md, "Multi-tenant stores"), against real upstreams:
 *
 * - `[prometheus_client] request_headers` through a real reverse proxy, Debian's nginx, in front of
 *   the shared Prometheus: nginx's access log shows that the queries, the target list and the
 *   series names requests all carry the tenant header (`X-Scope-OrgID`, as Mimir, Cortex and
 *   Thanos read it) and a bearer token, and the answers are the fleet's. The header values never
 *   appear in the service's log, also when the upstream refuses the tenant and quotes it back in
 *   its error (nginx answers 401 with the value in the body).
 * - the tenant path prefix, `root_path = select/0/prometheus`, against a real VictoriaMetrics
 *   (Debian's `victoria-metrics`) serving under its own `-http.pathPrefix=/select/0/prometheus`:
 *   the path vmselect of a VictoriaMetrics cluster serves tenant 0 under. It refuses every path
 *   without the prefix, so an answer proves every request carried it.
 *
 * nginx and VictoriaMetrics are plain processes on 127.0.0.1 with their files under .run/; missing
 * programs fail the run, never skip it.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Availability } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { callError, startTestApp, type TestApp } from "../support/app.js";
import { fleetWindow, SAMPLE_FLEET } from "../support/fleet.js";
import { renderOpenMetrics } from "../support/fleet-openmetrics.js";
import { type NginxLogLine, type RunningNginx, startNginx } from "../support/nginx.js";
import {
  httpOk,
  type RunningProcess,
  spawnLogged,
  waitUntil,
  waitUntilOrStop,
  withPortRetry,
} from "../support/processes.js";
import { activeTargetHosts } from "../support/prometheus.js";
import { prometheusConfig } from "../support/prometheus-config.js";
import {
  prometheusExposition,
  VICTORIA_METRICS_COMMAND,
  victoriaMetricsScrapeConfig,
} from "../support/victoria-metrics.js";

const stack = inject("stack");
const RUN_DIR = fileURLToPath(new URL("../../.run/upstream-headers", import.meta.url));
const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;
const TENANT = "tenant-7c41e9d2";
const TOKEN = "tok-5b8f0e13a7d4";
/** As an operator writes it: two headers, comma separated. */
const HEADERS = `X-Scope-OrgID: ${TENANT}, Authorization: Bearer ${TOKEN}`;
const SECRETS = { tenant: TENANT, token: TOKEN };

const apps: TestApp[] = [];
let nginx: RunningNginx;

beforeAll(async () => {
  await mkdir(RUN_DIR, { recursive: true });
  nginx = await startNginx({
    baseDir: RUN_DIR,
    locations: [
      // A store that refuses the tenant, quoting it back, as Mimir and Cortex do.
      {
        path: "/refusing/",
        answer: {
          status: 401,
          body: '{"status":"error","errorType":"unauthorized","error":"tenant $http_x_scope_orgid may not read ($http_authorization)"}',
        },
      },
      { path: "/", proxyPass: stack.prometheus.url },
    ],
  });
});

afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.stop()));
  await nginx?.stop();
  await rm(RUN_DIR, { recursive: true, force: true });
});

async function app(options: Record<string, string>): Promise<TestApp> {
  const started = await startTestApp({ "prometheus_client.host": "127.0.0.1", ...options });
  apps.push(started);
  return started;
}

function expectNoSecretIn(text: string, where: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    expect(text.includes(secret), `${where} shows the ${name}`).toBe(false);
  }
}

/** The log lines of requests whose path starts with `prefix`, logged after `since` lines. */
function requestsTo(log: readonly NginxLogLine[], prefix: string): NginxLogLine[] {
  return log.filter((line) => line.uri.startsWith(prefix));
}

describe("request_headers through a real reverse proxy (nginx in front of Prometheus)", () => {
  it("every request carries the headers; the answers are the fleet's; the log never shows them", async () => {
    const service = await app({
      "prometheus_client.port": String(nginx.port),
      "prometheus_client.request_headers": HEADERS,
    });
    const cpu = await service.client.getHostMetric(CPU);
    expect(cpu.result?.value).toBeCloseTo(31.25, 6);
    const hosts = await service.client.listHosts({});
    expect(hosts.hosts.map((h) => h.labelValue)).toContain("compute-1.example");
    const metrics = await service.client.listMetrics({});
    expect(metrics.metrics.find((m) => m.name === "host_cpu_usage")?.availability).toBe(
      Availability.AVAILABLE,
    );

    const log = await nginx.accessLog();
    const endpoints = [
      "/api/v1/query?",
      "/api/v1/targets?state=active",
      "/api/v1/label/__name__/values",
      // The readiness probe and the backend identification.
      "/api/v1/status/buildinfo",
    ];
    for (const endpoint of endpoints) {
      const seen = requestsTo(log, endpoint);
      expect(seen.length, `nginx saw no ${endpoint}`).toBeGreaterThan(0);
      for (const line of seen) {
        expect(line, line.request).toMatchObject({
          status: 200,
          tenant: TENANT,
          authorization: `Bearer ${TOKEN}`,
          userAgent: "metrics-access",
        });
      }
    }
    expect(log.filter((line) => line.tenant !== TENANT)).toEqual([]);
    expectNoSecretIn(service.rawLog(), "the service's log");
  });

  it("a store that refuses the tenant and quotes it: UNAVAILABLE, and neither message nor log shows it", async () => {
    const service = await app({
      "prometheus_client.port": String(nginx.port),
      "prometheus_client.root_path": "refusing",
      "prometheus_client.request_headers": HEADERS,
    });
    const err = await callError(service.client.getHostMetric(CPU));
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_UNAUTHORIZED");
    expectNoSecretIn(`${err.rawMessage} ${JSON.stringify([...err.metadata])}`, "the error");

    const refused = requestsTo(await nginx.accessLog(), "/refusing/api/v1/");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((line) => line.status === 401 && line.tenant === TENANT)).toBe(true);
    // The upstream's words are logged, with the values blanked out.
    const raw = service.rawLog();
    expect(raw).toContain("may not read");
    expect(raw).toContain("tenant [redacted] may not read ([redacted])");
    expectNoSecretIn(raw, "the service's log");
  });
});

describe("the tenant path prefix: VictoriaMetrics under -http.pathPrefix=/select/0/prometheus", () => {
  const PREFIX = "/select/0/prometheus";
  let vm: { url: string; port: number; process: RunningProcess; workDir: string };

  beforeAll(async () => {
    vm = await startPrefixedVictoriaMetrics(PREFIX);
  });

  afterAll(async () => {
    await vm?.process.stop();
  });

  it("refuses a path without the prefix (so an answer proves the prefix was sent)", async () => {
    expect(await httpOk(`http://127.0.0.1:${vm.port}/api/v1/status/buildinfo`)).toBe(false);
    expect(await httpOk(`${vm.url}/api/v1/status/buildinfo`)).toBe(true);
  });

  it("root_path = select/0/prometheus reaches it: queries, targets and series names", async () => {
    const service = await app({
      "prometheus_client.port": String(vm.port),
      "prometheus_client.root_path": "select/0/prometheus",
      "prometheus_client.request_headers": HEADERS,
    });
    const cpu = await service.client.getHostMetric(CPU);
    expect(cpu.result?.value).toBeCloseTo(31.25, 6);
    const hosts = await service.client.listHosts({});
    expect(hosts.hosts.map((h) => h.labelValue)).toEqual(
      expect.arrayContaining(SAMPLE_FLEET.hosts.map((h) => h.fqdn)),
    );
    const metrics = await service.client.listMetrics({});
    expect(metrics.metrics.find((m) => m.name === "host_cpu_usage")?.availability).toBe(
      Availability.AVAILABLE,
    );
    expectNoSecretIn(service.rawLog(), "the service's log");
  });

  it("without root_path: INTERNAL (UPSTREAM_REJECTED_QUERY), the log quoting the store's refusal", async () => {
    const service = await app({ "prometheus_client.port": String(vm.port) });
    const err = await callError(service.client.getHostMetric(CPU));
    // VictoriaMetrics answers 400 to a path without its prefix, which reads as a refused query; its
    // own words, in the log, name the prefix.
    expect([Code[err.code], err.metadata.get("x-error-reason")]).toEqual([
      "Internal",
      "UPSTREAM_REJECTED_QUERY",
    ]);
    expect(service.rawLog()).toContain(`missing -http.pathPrefix=\\"${PREFIX}\\"`);
  });
});

/**
 * A real VictoriaMetrics whose every path is under `prefix`, holding the sample fleet at the shared
 * Prometheus's time origin and listing its targets (placeholders, health down) through its own
 * scraper: test/support/victoria-metrics.ts's configuration and import format, at prefixed paths.
 */
async function startPrefixedVictoriaMetrics(
  prefix: string,
): Promise<{ url: string; port: number; process: RunningProcess; workDir: string }> {
  const workDir = await mkdtemp(join(RUN_DIR, "victoria-metrics-"));
  const configFile = join(workDir, "scrape.yml");
  await writeFile(
    configFile,
    victoriaMetricsScrapeConfig(prometheusConfig(SAMPLE_FLEET, { oooHours: 3, nodeExporter: undefined })),
  );
  const { proc, port } = await withPortRetry(async (port) => {
    const proc = await spawnLogged({
      name: "victoria-metrics",
      command: VICTORIA_METRICS_COMMAND,
      args: [
        `-httpListenAddr=127.0.0.1:${port}`,
        `-storageDataPath=${join(workDir, "data")}`,
        `-promscrape.config=${configFile}`,
        "-promscrape.suppressScrapeErrors",
        `-http.pathPrefix=${prefix}`,
      ],
      logDir: workDir,
      cwd: workDir,
    });
    await waitUntilOrStop(
      "victoria-metrics ready",
      () => httpOk(`http://127.0.0.1:${port}${prefix}/-/ready`),
      {
        timeoutMs: 30_000,
        process: proc,
        intervalMs: 50,
      },
    );
    return { proc, port };
  });
  const url = `http://127.0.0.1:${port}${prefix}`;
  try {
    const { text } = prometheusExposition(
      renderOpenMetrics(SAMPLE_FLEET, fleetWindow(stack.prometheus.startSec)),
    );
    const imported = await fetch(`${url}/api/v1/import/prometheus`, { method: "POST", body: text });
    expect(imported.status, await imported.text()).toBe(204);
    const flushed = await fetch(`${url}/internal/force_flush`);
    await flushed.arrayBuffer();
    await waitUntil(
      "the fleet's samples and targets",
      async () => {
        const listed = await activeTargetHosts(url, SAMPLE_FLEET.hostLabel);
        if (!SAMPLE_FLEET.hosts.every((h) => listed.has(h.fqdn))) return false;
        const res = await fetch(`${url}/api/v1/label/__name__/values`);
        const body = (await res.json()) as { data?: string[] };
        return body.data?.includes("node_cpu_seconds_total") ?? false;
      },
      { timeoutMs: 30_000, process: proc, intervalMs: 100 },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, port, process: proc, workDir };
}
