/**
 * The service's Keystone token over its life, against a Keystone and two Aetos instances of this
 * file's own (so it can revoke and stop freely), in front of the shared stack's Prometheus:
 *  (a) renewal before expiry, without a failed call;
 *  (b) a revoked token: Aetos answers 401, the service authenticates once more and the call succeeds;
 *  (c) Keystone stopped while the token is valid and Aetos still holds its validation: calls go on;
 *  (d) Keystone slow just when the service must authenticate again (its token revoked): calls fail
 *      fast with UNAVAILABLE, Keystone is asked once per retry wait rather than once per call, and
 *      calls succeed again once Keystone answers.
 *
 * Keystone issues 130 s tokens; the service renews a token with less than 120 s left, so a token
 * is used as is for its first ~10 s and renewed after that. Each test starts its own service, so
 * its token is fresh: (b) and (c) finish within those ~10 s (they assert it), (a) spans a renewal.
 *
 * What is observed, besides the service's own log and answers:
 *  - a recording proxy between the service and Keystone (the service's auth_url points at it)
 *    shows every token Keystone really issued to it, when, and its expiry;
 *  - RegionOne's catalog endpoint is a recording proxy in front of Aetos "short" (token_cache_time
 *    3 s), so every request the service sent to Aetos, its X-Auth-Token and Aetos's status are seen;
 *  - RegionTwo's endpoint is Aetos "long" (token_cache_time 60 s) directly, for the outage test.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Aggregate } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type Aetos, primeAetosTokenCache, startAetos } from "../support/aetos.js";
import {
  aetosPasswordOptions,
  type Exchange,
  FERNET_TOKEN,
  issuedTokens,
  type RecordingProxy,
  startRecordingProxy,
  tokenIssuedLines,
} from "../support/aetos-harness.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { startDelayProxy } from "../support/delay-proxy.js";
import { type Keystone, startKeystone } from "../support/keystone.js";
import { AETOS_SERVICE_USER, type Provisioning, provisionKeystone } from "../support/keystone-provision.js";
import { freePort } from "../support/processes.js";

const stack = inject("stack");
const TOKEN_EXPIRATION_SEC = 130;
/** The service renews a token with less than this left (keystoneauth's MIN_TOKEN_LIFE_SECONDS). */
const RENEW_BEFORE_MS = 120_000;
/** How long a fresh token is used before the service renews it. */
const FRESH_WINDOW_MS = TOKEN_EXPIRATION_SEC * 1000 - RENEW_BEFORE_MS - 1_000;
const SHORT_CACHE_SEC = 3;
const LONG_CACHE_SEC = 60;
const HOST = "compute-1.example";
const VM_B = "22222222-2222-4222-8222-222222222222";

const fileStarted = performance.now();
const timings: Record<string, number> = {};
const since = (t0: number) => Math.round(performance.now() - t0);

let workDir: string | undefined;
let keystone: Keystone;
let prov: Provisioning;
let aetosShort: Aetos;
let aetosLong: Aetos;
/** Service → Keystone. */
let ksProxy: RecordingProxy;
/** Service → Aetos "short" (RegionOne's catalog URL). */
let aetosProxy: RecordingProxy;
const services: TestApp[] = [];

async function startService(region: "RegionOne" | "RegionTwo"): Promise<TestApp> {
  const app = await startTestApp(
    aetosPasswordOptions(`${ksProxy.origin}/v3`, prov.watcher, { "aetos_client.region_name": region }),
  );
  services.push(app);
  return app;
}

/** Log time (ms) of each "keystone token issued" line, with the expiry it logged. */
function issuedInLog(app: TestApp): { at: number; expiresAt: number }[] {
  return tokenIssuedLines(app.logs).map((l) => ({
    at: Date.parse(String(l.time)),
    expiresAt: Date.parse(String(l.expiresAt)),
  }));
}

/** Neither a token Keystone issued to the service nor anything shaped like one is in its log. */
function expectNoTokenInLog(app: TestApp): void {
  const log = app.rawLog();
  const leaked = issuedTokens(ksProxy).filter((t) => log.includes(t.token));
  expect(leaked).toHaveLength(0);
  expect(FERNET_TOKEN.test(log)).toBe(false);
}

function hostCpu(app: TestApp) {
  return app.client.getHostMetric({ host: HOST, metric: "host_cpu_usage" });
}

function aetosRequests(from: number): Exchange[] {
  return aetosProxy.exchanges.slice(from);
}

beforeAll(async () => {
  const t0 = performance.now();
  await mkdir(join(process.cwd(), ".run"), { recursive: true });
  const dir = await mkdtemp(join(process.cwd(), ".run", "aetos-lifecycle-"));
  workDir = dir;
  const [shortPort, longPort] = await Promise.all([freePort(), freePort()]);
  [keystone, aetosProxy] = await Promise.all([
    startKeystone({ workDir: join(dir, "keystone"), tokenExpirationSec: TOKEN_EXPIRATION_SEC }),
    startRecordingProxy({ port: shortPort }),
  ]);
  timings.keystoneStartMs = since(t0);
  ksProxy = await startRecordingProxy({ port: keystone.port, recordBodies: true });
  const regionOne = `${aetosProxy.origin}/prometheus`;
  const regionTwo = `http://127.0.0.1:${longPort}/prometheus`;
  const aetos = (name: string, port: number, tokenCacheTimeSec: number) =>
    startAetos({
      workDir: join(dir, name),
      keystone: { url: keystone.url, ...AETOS_SERVICE_USER },
      prometheusHost: stack.prometheus.host,
      prometheusPort: stack.prometheus.port,
      port,
      tokenCacheTimeSec,
    });
  [prov, aetosShort, aetosLong] = await Promise.all([
    provisionKeystone(keystone, {
      aetosUrls: {
        RegionOne: { public: regionOne, internal: regionOne },
        RegionTwo: { public: regionTwo, internal: regionTwo },
      },
    }),
    aetos("aetos-short", shortPort, SHORT_CACHE_SEC),
    aetos("aetos-long", longPort, LONG_CACHE_SEC),
  ]);
  timings.setupMs = since(t0);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(services.map((s) => s.stop()));
  await Promise.allSettled([aetosShort?.stop(), aetosLong?.stop(), ksProxy?.close(), aetosProxy?.close()]);
  await keystone?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  timings.fileMs = since(fileStarted);
  process.stderr.write(`aetos-token-lifecycle timings (ms): ${JSON.stringify(timings)}\n`);
}, 60_000);

describe("the service's Keystone token", () => {
  it("is renewed before it expires, without a failed call", async () => {
    const ksMark = ksProxy.exchanges.length;
    const aetosMark = aetosProxy.exchanges.length;
    const app = await startService("RegionOne");
    const t0 = performance.now();
    const failures: unknown[] = [];
    let calls = 0;
    // Until the token has been renewed and the new one used for a few calls (~10 s + ~2 s).
    while (since(t0) < FRESH_WINDOW_MS + 3_000) {
      calls++;
      try {
        const res = await hostCpu(app);
        expect(res.result?.value).toBeCloseTo(31.25, 6);
      } catch (err) {
        failures.push(err);
      }
      await sleep(500);
    }
    timings.renewalTestMs = since(t0);
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(15);

    // The service's log: the token at start-up and at least one renewal.
    const logged = issuedInLog(app);
    expect(logged.length).toBeGreaterThanOrEqual(2);
    // Keystone really issued them: the same number of 201s to the service, with the same expiries.
    const issued = issuedTokens(ksProxy, ksMark);
    expect(issued.map((t) => t.userAgent)).toEqual(issued.map(() => "metrics-access"));
    expect(issued.map((t) => t.expiresAt)).toEqual(logged.map((l) => l.expiresAt));
    expect(new Set(issued.map((t) => t.token)).size).toBe(issued.length);
    // The renewal was proactive: the first token had about 120 s left, not zero.
    const [first, second] = issued;
    if (!first || !second) throw new Error("fewer than two tokens issued");
    const leftAtRenewal = first.expiresAt - second.issuedAt;
    expect(leftAtRenewal).toBeLessThanOrEqual(RENEW_BEFORE_MS + 1_000);
    expect(leftAtRenewal).toBeGreaterThan(RENEW_BEFORE_MS - 5_000);

    // Aetos saw only 200s, each request with one of those tokens, and both tokens were used.
    const requests = aetosRequests(aetosMark);
    expect(requests.length).toBeGreaterThanOrEqual(calls);
    expect(requests.map((r) => r.status)).toEqual(requests.map(() => 200));
    const tokens = new Set(issued.map((t) => t.token));
    expect(requests.every((r) => tokens.has(r.requestHeaders["x-auth-token"] ?? ""))).toBe(true);
    expect(new Set(requests.map((r) => r.requestHeaders["x-auth-token"])).size).toBe(issued.length);
    await app.stop();
    expectNoTokenInLog(app);
  }, 40_000);

  it("revoked: Aetos answers 401, the service authenticates exactly once more, and the call succeeds", async () => {
    const ksMark = ksProxy.exchanges.length;
    const app = await startService("RegionOne");
    const t0 = performance.now();
    const firstCall = await hostCpu(app);
    expect(firstCall.result?.value).toBeCloseTo(31.25, 6);
    const validatedAt = performance.now();
    const [old] = issuedTokens(ksProxy, ksMark);
    if (!old) throw new Error("the service's token did not pass the Keystone proxy");

    // Revoke the very token the service holds, the Keystone way (DELETE /v3/auth/tokens).
    await prov.revokeToken(old.token);
    const check = await fetch(`${keystone.url}/auth/tokens`, {
      method: "HEAD",
      headers: { "X-Auth-Token": await keystone.adminToken(), "X-Subject-Token": old.token },
    });
    expect(check.status).toBe(404);
    // Aetos "short" forgets its validation after token_cache_time (in each worker).
    const wait = SHORT_CACHE_SEC * 1000 + 1_000 - since(validatedAt);
    if (wait > 0) await sleep(wait);

    const aetosMark = aetosProxy.exchanges.length;
    const res = await hostCpu(app);
    expect(res.result?.value).toBeCloseTo(31.25, 6);
    timings.revocationTestMs = since(t0);

    // Still inside the fresh window: the new token came from the 401, not from a renewal.
    const issued = issuedTokens(ksProxy, ksMark);
    expect(issued).toHaveLength(2);
    const renewed = issued[1];
    if (!renewed) throw new Error("no second token");
    expect(old.expiresAt - renewed.issuedAt).toBeGreaterThan(RENEW_BEFORE_MS);
    expect(issuedInLog(app)).toHaveLength(2);

    // On the wire: the old token refused once, then the same request with the new token.
    const requests = aetosRequests(aetosMark);
    const seen = requests.map((r) => ({
      status: r.status,
      token:
        r.requestHeaders["x-auth-token"] === old.token
          ? "old"
          : r.requestHeaders["x-auth-token"] === renewed.token
            ? "new"
            : "other",
      path: r.path,
    }));
    expect(seen[0]).toMatchObject({ status: 401, token: "old" });
    expect(seen[1]).toMatchObject({ status: 200, token: "new", path: seen[0]?.path });
    expect(seen.slice(1).every((r) => r.status === 200 && r.token === "new")).toBe(true);
    expect(app.logs.filter((l) => l.msg === "call" && l.code === "ok")).toHaveLength(2);
    expect(app.logs.filter((l) => l.msg === "call failed" || l.msg === "call refused")).toHaveLength(0);
    await app.stop();
    expectNoTokenInLog(app);
  }, 30_000);

  it("keeps serving while Keystone is stopped, as long as the token is valid and Aetos holds its validation", async () => {
    const ksMark = ksProxy.exchanges.length;
    const app = await startService("RegionTwo");
    const t0 = performance.now();
    // Every Aetos "long" worker validates the fresh token now: concurrent calls, one request each.
    // Each asks a different period, so that the service's coalescing cannot join them into one.
    const primed = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        app.client.getInstanceMetric({
          instanceId: VM_B,
          metric: "instance_ram_usage",
          aggregate: Aggregate.MAX,
          period: { seconds: BigInt(300 + 300 * i) },
        }),
      ),
    );
    expect(primed.every((r) => r.result?.value === 2816)).toBe(true);
    await app.client.listHosts({});
    // Eight calls need not reach both uWSGI workers under load: make sure with the same token, so
    // that what follows shows the service's behaviour, not which worker Aetos picked.
    const [serviceToken] = issuedTokens(ksProxy, ksMark);
    expect(await primeAetosTokenCache(aetosLong, serviceToken?.token ?? "", 8)).toEqual(Array(8).fill(200));

    const stopping = performance.now();
    await keystone.stopServer();
    timings.keystoneStopMs = since(stopping);
    const outage = performance.now();
    let answers = 0;
    try {
      expect(keystone.serving()).toBe(false);
      await expect(fetch(keystone.url, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
      for (let i = 0; i < 3; i++) {
        const [cpu, ram, vm, hosts] = await Promise.all([
          hostCpu(app),
          app.client.getHostMetric({ host: "compute-2", metric: "host_ram_usage" }),
          app.client.getInstanceMetric({ instanceId: VM_B, metric: "instance_cpu_usage", vcpus: 2 }),
          app.client.listHosts({ pageSize: 2 }),
        ]);
        expect(cpu.result?.value).toBeCloseTo(31.25, 6);
        expect(ram.result?.labelValue).toBe("compute-2.example");
        expect(vm.result?.value).toBeCloseTo(62.5, 6);
        expect(hosts.hosts).toHaveLength(2);
        answers += 4;
      }
      timings.keystoneOutageMs = since(outage);
      // All of it within the token's fresh window, with the one token issued at start-up.
      expect(since(t0)).toBeLessThan(FRESH_WINDOW_MS);
      expect(issuedTokens(ksProxy, ksMark)).toHaveLength(1);
      expect(issuedInLog(app)).toHaveLength(1);
    } finally {
      const restarting = performance.now();
      await keystone.startServer();
      timings.keystoneRestartMs = since(restarting);
    }
    expect(answers).toBe(12);
    expect(app.logs.filter((l) => l.msg === "call failed" || l.msg === "call refused")).toHaveLength(0);
    await app.stop();
  }, 40_000);

  it("Keystone slow at re-authentication: calls fail fast, Keystone is asked once per retry wait, then calls recover", async () => {
    const slow = await startDelayProxy({ targetHost: "127.0.0.1", targetPort: ksProxy.port, delayMs: 0 });
    try {
      const ksMark = ksProxy.exchanges.length;
      const app = await startTestApp(
        aetosPasswordOptions(`http://127.0.0.1:${slow.port}/v3`, prov.watcher, {
          "aetos_client.region_name": "RegionOne",
          "watcher_clients_auth.timeout": "1",
        }),
      );
      services.push(app);
      expect((await hostCpu(app)).result?.value).toBeCloseTo(31.25, 6);
      const validatedAt = performance.now();
      const [old] = issuedTokens(ksProxy, ksMark);
      if (!old) throw new Error("the service's token did not pass the Keystone proxy");
      await prov.revokeToken(old.token);
      const wait = SHORT_CACHE_SEC * 1000 + 1_000 - since(validatedAt);
      if (wait > 0) await sleep(wait);

      // Keystone now answers after 3 s, past the service's 1 s timeout.
      slow.setDelay(3_000);
      const triesBefore = ksProxy.exchanges.length;
      const t1 = performance.now();
      const first = await hostCpu(app).catch((err: unknown) => err);
      const firstMs = since(t1);
      expect(first).toMatchObject({ code: Code.Unavailable });
      expect(String((first as Error).message)).toContain("Keystone did not answer auth/tokens within 1 s");
      // Right after: no token and a retry wait running: every call fails at once, none waits on Keystone.
      const t2 = performance.now();
      const quick = await Promise.all(
        Array.from({ length: 5 }, () => hostCpu(app).catch((err: unknown) => err)),
      );
      const quickMs = since(t2);
      expect(quick.map((e) => (e as { code?: unknown }).code)).toEqual(Array(5).fill(Code.Unavailable));
      expect(quickMs).toBeLessThan(400);
      // The delayed requests reach the recording proxy 3 s late: wait for them, then count.
      await sleep(3_500);
      expect(ksProxy.exchanges.length - triesBefore).toBe(1);

      slow.setDelay(0);
      // The first retry wait is at most 1 s.
      await sleep(1_100);
      expect((await hostCpu(app)).result?.value).toBeCloseTo(31.25, 6);
      timings.keystoneSlowMs = firstMs;
      await app.stop();
      expectNoTokenInLog(app);
    } finally {
      await slow.close();
    }
  }, 40_000);
});
