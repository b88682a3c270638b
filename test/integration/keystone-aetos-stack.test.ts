/**
 * Smoke test of the test stack itself: a plain Prometheus, the real Keystone (sqlite) provisioned
 * through its REST API, and the real Aetos in front of Prometheus, checked with plain fetch.
 * Self-contained: it needs no global setup.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Aetos,
  DEFAULT_TOKEN_CACHE_TIME_SEC,
  primeAetosTokenCache,
  startAetos,
} from "../support/aetos.js";
import { type Keystone, startKeystone } from "../support/keystone.js";
import { passwordToken } from "../support/keystone-api.js";
import { AETOS_SERVICE_USER, type Provisioning, provisionKeystone } from "../support/keystone-provision.js";
import {
  freePort,
  httpOk,
  type RunningProcess,
  spawnLogged,
  stopAll,
  waitUntil,
} from "../support/processes.js";

const TOKEN_CACHE_TIME_SEC = DEFAULT_TOKEN_CACHE_TIME_SEC;

async function startPrometheus(workDir: string): Promise<{ proc: RunningProcess; port: number }> {
  await mkdir(workDir, { recursive: true });
  const [port, closedPort] = await Promise.all([freePort(), freePort()]);
  const config = join(workDir, "prometheus.yml");
  await writeFile(
    config,
    [
      "global:",
      "  scrape_interval: 15s",
      "scrape_configs:",
      "  - job_name: compute",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${closedPort}"]`,
      "        labels:",
      "          fqdn: compute-1.example",
      "",
    ].join("\n"),
  );
  const proc = await spawnLogged({
    name: "prometheus",
    command: "prometheus",
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(workDir, "tsdb")}`,
      `--config.file=${config}`,
    ],
    logDir: workDir,
  });
  await waitUntil("Prometheus /-/ready", () => httpOk(`http://127.0.0.1:${port}/-/ready`), {
    timeoutMs: 30_000,
    process: proc,
  });
  return { proc, port };
}

async function targetListed(promPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/targets?state=active`);
  const text = await res.text();
  return res.ok && text.includes("compute-1.example");
}

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

async function getAetos(aetos: Aetos, path: string, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers["X-Auth-Token"] = token;
  const res = await fetch(`${aetos.url}${path}`, { headers, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const timings: Record<string, number> = {};
const since = (t0: number) => Math.round(performance.now() - t0);

describe("Keystone + Aetos test stack", () => {
  let workDir: string;
  let keystone: Keystone;
  let prov: Provisioning;
  let aetos: Aetos;
  let promPort: number;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "ks-aetos-stack-"));
    const t0 = performance.now();
    const [prom, ks, aetosPort] = await Promise.all([
      startPrometheus(join(workDir, "prometheus")),
      startKeystone({ workDir: join(workDir, "keystone"), tokenExpirationSec: 180 }).then((k) => {
        timings.keystoneStartMs = since(t0);
        return k;
      }),
      freePort(),
    ]);
    keystone = ks;
    promPort = prom.port;
    const t1 = performance.now();
    const aetosUrl = `http://127.0.0.1:${aetosPort}/prometheus`;
    [prov, aetos] = await Promise.all([
      provisionKeystone(keystone, {
        aetosUrls: {
          RegionOne: { public: aetosUrl, internal: aetosUrl },
          RegionTwo: {
            public: `http://localhost:${aetosPort}/prometheus`,
            internal: `http://localhost:${aetosPort}/prometheus`,
          },
        },
      }).then((p) => {
        timings.provisioningMs = since(t1);
        return p;
      }),
      startAetos({
        workDir: join(workDir, "aetos"),
        keystone: { url: keystone.url, ...AETOS_SERVICE_USER },
        prometheusHost: "127.0.0.1",
        prometheusPort: prom.port,
        port: aetosPort,
        tokenCacheTimeSec: TOKEN_CACHE_TIME_SEC,
      }).then((a) => {
        timings.aetosStartMs = since(t1);
        return a;
      }),
    ]);
    timings.keystoneProvisioningAetosMs = since(t0);
    await waitUntil("the Prometheus target to be listed", () => targetListed(prom.port), {
      timeoutMs: 30_000,
    });
    timings.totalWithPrometheusTargetMs = since(t0);
    process.stderr.write(
      `stack timings (ms): ${JSON.stringify(timings)}; keystone phases (ms since start): ${JSON.stringify(keystone.startupTimings)}; logs under ${workDir} (removed at the end)\n`,
    );
  }, 180_000);

  afterAll(async () => {
    await stopAll();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 30_000);

  it("serves Aetos version 3.x and a catalog as provisioned", async () => {
    expect(aetos.version).toMatch(/^3\./);
    const tok = await prov.token(prov.watcher);
    expect(tok.roles).toContain("service");
    expect(tok.projectId).toBe(prov.projects.service.id);
    const metric = tok.catalog.find((s) => s.type === "metric-storage");
    expect(metric?.name).toBe("aetos");
    const eps = (metric?.endpoints ?? []).map((e) => `${e.regionId}/${e.interface}=${e.url}`).sort();
    expect(eps).toEqual(
      [
        `RegionOne/internal=${aetos.url}`,
        `RegionOne/public=${aetos.url}`,
        `RegionTwo/internal=http://localhost:${aetos.port}/prometheus`,
        `RegionTwo/public=http://localhost:${aetos.port}/prometheus`,
      ].sort(),
    );
    const lifetime = tok.expiresAt.getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(150_000);
    expect(lifetime).toBeLessThanOrEqual(181_000);

    const reader = await prov.token(prov.readerA);
    expect(reader.roles).toEqual(["reader"]);
  });

  it("gives the no-metric-storage project a catalog without metric-storage", async () => {
    const tok = await prov.token(prov.watcherNoCatalog);
    expect(tok.roles).toContain("service");
    expect(tok.catalog.map((s) => s.type)).toEqual(["identity"]);
  });

  it("can disable and re-enable the metric-storage service", async () => {
    await prov.setMetricStorageEnabled(false);
    try {
      const off = await prov.token(prov.watcher);
      expect(off.catalog.some((s) => s.type === "metric-storage")).toBe(false);
    } finally {
      await prov.setMetricStorageEnabled(true);
    }
    const on = await prov.token(prov.watcher);
    expect(on.catalog.some((s) => s.type === "metric-storage")).toBe(true);
  });

  it("lets the service role read targets through Aetos", async () => {
    const tok = await prov.token(prov.watcher);
    const res = await getAetos(aetos, "/api/v1/targets?state=active", tok.token);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as {
      status: string;
      data: { activeTargets: { labels: { fqdn?: string } }[] };
    };
    expect(body.status).toBe("success");
    expect(body.data.activeTargets.map((t) => t.labels.fqdn)).toContain("compute-1.example");
  });

  it("answers 403 RBAC to a reader, 401 without a token, 404 for query_range", async () => {
    const reader = await prov.token(prov.readerA);
    const denied = await getAetos(aetos, "/api/v1/targets?state=active", reader.token);
    expect(denied.status).toBe(403);
    const err = JSON.parse(denied.text) as { error_message: { faultstring: string } };
    expect(err.error_message.faultstring).toContain("RBAC");

    const anonymous = await getAetos(aetos, "/api/v1/targets?state=active");
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain("Keystone uri=");

    const watcher = await prov.token(prov.watcher);
    const range = await getAetos(aetos, "/api/v1/query_range?query=up&start=0&end=60&step=15", watcher.token);
    expect(range.status).toBe(404);
  });

  it("authenticates the application credential, and its token works on Aetos", async () => {
    const tok = await prov.appCredentialToken();
    expect(tok.methods).toEqual(["application_credential"]);
    expect(tok.projectId).toBe(prov.projects.service.id);
    expect(tok.roles).toContain("service");
    expect(tok.catalog.some((s) => s.type === "metric-storage")).toBe(true);
    const res = await getAetos(aetos, "/api/v1/targets?state=active", tok.token);
    expect(res.status).toBe(200);
  });

  it("refuses a revoked token: at once if Aetos never saw it, after token_cache_time if it did", async () => {
    const unseen = await prov.token(prov.watcher);
    await prov.revokeToken(unseen.token);
    expect((await getAetos(aetos, "/api/v1/targets?state=active", unseen.token)).status).toBe(401);

    const seen = await prov.token(prov.watcher);
    expect(await primeAetosTokenCache(aetos, seen.token)).toEqual([200, 200, 200, 200]);
    await prov.revokeToken(seen.token);
    const revokedAt = performance.now();
    // Keystone itself refuses it at once.
    const check = await fetch(`${keystone.url}/auth/tokens`, {
      method: "HEAD",
      headers: { "X-Auth-Token": await keystone.adminToken(), "X-Subject-Token": seen.token },
    });
    expect(check.status).toBe(404);
    // Aetos still holds its validation (documents the cache; the entry is < 2 s old here).
    expect((await getAetos(aetos, "/api/v1/targets?state=active", seen.token)).status).toBe(200);
    // ...until the cache entry expires in every worker.
    await waitUntil(
      "Aetos to refuse the revoked token",
      async () => {
        const answers = await primeAetosTokenCache(aetos, seen.token);
        return answers.every((s) => s === 401);
      },
      { timeoutMs: (TOKEN_CACHE_TIME_SEC + 5) * 1000, intervalMs: 500 },
    );
    timings.revocationVisibleAfterMs = since(revokedAt);
    process.stderr.write(`revoked token refused by Aetos after ${timings.revocationVisibleAfterMs} ms\n`);
    expect(timings.revocationVisibleAfterMs).toBeLessThan((TOKEN_CACHE_TIME_SEC + 5) * 1000);
  }, 60_000);

  it("keeps answering a cached token while Keystone is stopped, 503 for an unseen one", async () => {
    const cached = await prov.token(prov.watcher);
    const unseen = await prov.token(prov.watcher);
    expect(await primeAetosTokenCache(aetos, cached.token)).toEqual([200, 200, 200, 200]);
    const t0 = performance.now();
    await keystone.stopServer();
    timings.keystoneStopMs = since(t0);
    expect(keystone.serving()).toBe(false);
    await expect(fetch(`${keystone.url}`)).rejects.toThrow();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        statuses.push((await getAetos(aetos, "/api/v1/targets?state=active", cached.token)).status);
      }
      statuses.push(...(await primeAetosTokenCache(aetos, cached.token, 8)));
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect((await getAetos(aetos, "/api/v1/targets?state=active", unseen.token)).status).toBe(503);
      timings.keystoneOutageMs = since(t0);
    } finally {
      const t1 = performance.now();
      await keystone.startServer();
      timings.keystoneRestartMs = since(t1);
    }
    expect(keystone.serving()).toBe(true);
    const fresh = await prov.token(prov.watcher);
    expect((await getAetos(aetos, "/api/v1/targets?state=active", fresh.token)).status).toBe(200);
    expect((await getAetos(aetos, "/api/v1/targets?state=active", unseen.token)).status).toBe(200);
    process.stderr.write(`keystone outage timings (ms): ${JSON.stringify(timings)}\n`);
  }, 60_000);

  it("keeps connections alive without resets (keep-alive client, Keystone behind uWSGI --http)", async () => {
    const admin = await keystone.adminToken();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${keystone.url}/auth/tokens`, {
        method: "HEAD",
        headers: { "X-Auth-Token": admin, "X-Subject-Token": admin },
      });
      expect(res.status).toBe(200);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1_000));
    }
    const again = await passwordToken(keystone.url, keystone.admin);
    expect(again.roles).toContain("admin");
  });

  it("keeps Prometheus reachable directly", async () => {
    expect(await targetListed(promPort)).toBe(true);
  });
});
