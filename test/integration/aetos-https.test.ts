/**
 * Aetos over https behind a private CA, verified with [watcher_clients_auth] cafile: the fix of
 * Watcher's stack, where python-observabilityclient replaces the configured CA with the system store
 * (`verify=True`), so an Aetos behind a private CA fails there.
 *
 * Real components, all owned by this file: a Keystone (http; start-up only talks to it), provisioned
 * with the metric-storage endpoint https://127.0.0.1:<port>/prometheus in RegionOne, and the real
 * Aetos under uWSGI's https router (`--https 127.0.0.1:<port>,<cert>,<key>`) with a certificate from
 * a CA made here with openssl, in front of the shared stack's Prometheus.
 *
 * startAetos (test/support/aetos.ts) always serves plain http (`--http`) and probes its health check
 * over http, so {@link startHttpsAetos} below starts it the same way with the https router instead.
 */
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { HostMetric } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type AetosKeystoneAuth, DEFAULT_TOKEN_CACHE_TIME_SEC } from "../support/aetos.js";
import { aetosPasswordOptions } from "../support/aetos-harness.js";
import { type Options, startTestApp, type TestApp } from "../support/app.js";
import {
  AETOS_SERVICE_USER,
  type Keystone,
  type ProvisionedUser,
  provisionKeystone,
  startKeystone,
} from "../support/keystone.js";
import { freePort, type RunningProcess, spawnLogged, waitUntil } from "../support/processes.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DIST_PACKAGES = join(ROOT, ".deps/aetos/root/usr/lib/python3/dist-packages");
const stack = inject("stack");
const CPU = { host: "compute-1.example", metric: HostMetric.CPU_USAGE } as const;

interface HttpsAetos {
  /** `https://127.0.0.1:<port>/prometheus` */
  readonly url: string;
  readonly port: number;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

/**
 * The real Aetos as startAetos runs it (same aetos.conf, same uWSGI options), but behind uWSGI's
 * https router with `pki`'s server certificate; waits for /prometheus/healthcheck over https.
 */
async function startHttpsAetos(options: {
  readonly workDir: string;
  readonly port: number;
  readonly pki: TestPki;
  readonly keystone: AetosKeystoneAuth;
  readonly prometheusHost: string;
  readonly prometheusPort: number;
}): Promise<HttpsAetos> {
  const installed = await lstat(join(DIST_PACKAGES, "aetos")).catch(() => undefined);
  if (!installed?.isDirectory()) {
    throw new Error(
      `Aetos is not installed under ${DIST_PACKAGES}; run \`bash scripts/install-test-deps.sh\``,
    );
  }
  const ks = options.keystone;
  await mkdir(join(options.workDir, ".aetos"), { recursive: true });
  await writeFile(
    join(options.workDir, ".aetos", "aetos.conf"),
    [
      "[DEFAULT]",
      "auth_mode = keystone",
      "debug = true",
      "use_stderr = true",
      "[prometheus]",
      `host = ${options.prometheusHost}`,
      `port = ${options.prometheusPort}`,
      "[keystone_authtoken]",
      `www_authenticate_uri = ${ks.url.replace(/\/v3\/?$/, "")}`,
      `auth_url = ${ks.url}`,
      "auth_type = password",
      `username = ${ks.username}`,
      `password = ${ks.password}`,
      `project_name = ${ks.projectName}`,
      `user_domain_id = ${ks.userDomainId ?? "default"}`,
      `project_domain_id = ${ks.projectDomainId ?? "default"}`,
      `token_cache_time = ${DEFAULT_TOKEN_CACHE_TIME_SEC}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const proc = await spawnLogged({
    name: "aetos",
    command: "uwsgi",
    args: [
      "--plugin",
      "http,python3",
      "--https",
      `127.0.0.1:${options.port},${options.pki.serverCertFile},${options.pki.serverKeyFile}`,
      "--pythonpath",
      DIST_PACKAGES,
      "--mount",
      "/prometheus=aetos.wsgi.api:application",
      "--manage-script-name",
      "--no-default-app",
      "--master",
      "--processes",
      "2",
      "--threads",
      "1",
      "--lazy-apps",
      "--die-on-term",
      "--need-app",
      "--http-keepalive",
      "--http-auto-chunked",
      "--buffer-size",
      "65535",
      "--skip-atexit-teardown",
    ],
    logDir: options.workDir,
    // aetos.conf is found as ~/.aetos/aetos.conf.
    env: { ...process.env, HOME: options.workDir },
  });
  const url = `https://127.0.0.1:${options.port}/prometheus`;
  const agent = new Agent({ connect: { ca: options.pki.ca } });
  try {
    await waitUntil(
      `Aetos ${url}/healthcheck over https`,
      async () => {
        const res = await undiciFetch(`${url}/healthcheck`, {
          dispatcher: agent,
          signal: AbortSignal.timeout(2_000),
        });
        await res.arrayBuffer();
        return res.ok;
      },
      { timeoutMs: 60_000, process: proc },
    );
  } catch (err) {
    await proc.stop(10_000);
    throw err;
  } finally {
    await agent.close();
  }
  return { url, port: options.port, process: proc, stop: () => proc.stop(10_000) };
}

/** After Promise.allSettled over starts that keep what they started: throws the first failure. */
function throwFirstFailure(results: readonly PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function callError(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => new Error("expected an error, got an answer"),
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw err;
  return err;
}

describe("Aetos over https behind a private CA", () => {
  let workDir: string;
  let pki: TestPki;
  let keystone: Keystone;
  let aetos: HttpsAetos;
  let watcher: ProvisionedUser;
  /** The value the shared Prometheus gives directly, the reference for Aetos's answer. */
  let direct: number | undefined;
  const apps: TestApp[] = [];

  async function app(options: Options): Promise<TestApp> {
    const started = await startTestApp(options);
    apps.push(started);
    return started;
  }

  beforeAll(async () => {
    await mkdir(join(ROOT, ".run"), { recursive: true });
    workDir = await mkdtemp(join(ROOT, ".run", "aetos-https-"));
    // Fails (never skips) when openssl, Keystone, uWSGI or Aetos is missing.
    // Each start keeps what it started before any failure is thrown, so afterAll stops it.
    throwFirstFailure(
      await Promise.allSettled([
        createTestPki({ prefix: "aetos-https-" }).then((made) => {
          pki = made;
        }),
        startKeystone({ workDir: join(workDir, "keystone") }).then((started) => {
          keystone = started;
        }),
      ]),
    );
    const port = await freePort();
    const url = `https://127.0.0.1:${port}/prometheus`;
    throwFirstFailure(
      await Promise.allSettled([
        provisionKeystone(keystone, {
          aetosUrls: {
            RegionOne: { public: url, internal: url },
            RegionTwo: { public: url, internal: url },
          },
        }).then((provisioning) => {
          watcher = provisioning.watcher;
        }),
        startHttpsAetos({
          workDir: join(workDir, "aetos"),
          port,
          pki,
          keystone: { url: keystone.url, ...AETOS_SERVICE_USER },
          prometheusHost: stack.prometheus.host,
          prometheusPort: stack.prometheus.port,
        }).then((started) => {
          aetos = started;
        }),
      ]),
    );
    const prometheus = await app({
      "prometheus_client.host": stack.prometheus.host,
      "prometheus_client.port": String(stack.prometheus.port),
    });
    direct = (await prometheus.client.getHostMetric(CPU)).value;
    expect(direct).toBeCloseTo(31.25, 6);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.stop()));
    await Promise.allSettled([aetos?.stop(), keystone?.stop()]);
    await pki?.remove();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const options = (extra: Options): Options =>
    aetosPasswordOptions(keystone.url, watcher, {
      "aetos_client.region_name": "RegionOne",
      ...extra,
    });

  it("[watcher_clients_auth] cafile verifies Aetos: the same value as direct Prometheus", async () => {
    const service = await app(options({ "watcher_clients_auth.cafile": pki.caFile }));
    const endpoint = service.logs.find((l) => l.msg === "datasource: Aetos, found in the Keystone catalog");
    expect(endpoint?.endpoint).toBe(aetos.url);
    const res = await service.client.getHostMetric(CPU);
    expect(res.value).toBe(direct);
    const hosts = await service.client.listHosts({});
    expect(hosts.hosts.map((h) => h.labelValue)).toContain("compute-1.example");
    // It went through this Aetos (uWSGI logs every request it routed).
    const log = await readFile(aetos.process.logFile, "utf8");
    expect(log).toMatch(/GET \/prometheus\/api\/v1\/targets\?state=active /);
    expect(log).toMatch(/GET \/prometheus\/api\/v1\/query\?query=/);
  });

  it("without cafile the private CA is not trusted: starts (Keystone is http), calls UNAVAILABLE", async () => {
    const service = await app(options({}));
    const err = await callError(service.client.getHostMetric(CPU, { timeoutMs: 10_000 }));
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
    expect(err.rawMessage).toContain(
      "Aetos could not be reached for targets (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    );
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_UNREACHABLE");
    for (const leak of ["127.0.0.1", String(aetos.port), "https://", "/prometheus"]) {
      expect(err.rawMessage, `message leaks ${leak}`).not.toContain(leak);
    }
  });

  it("insecure = true works without cafile", async () => {
    const service = await app(options({ "watcher_clients_auth.insecure": "true" }));
    const res = await service.client.getHostMetric(CPU);
    expect(res.value).toBe(direct);
  });
});
