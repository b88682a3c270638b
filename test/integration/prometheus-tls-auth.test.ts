/**
 * [prometheus_client] TLS and authentication against a real Prometheus 2.42 served with
 * `--web.config.file` (exporter-toolkit): https with a certificate from a private CA made here with
 * openssl, mutual TLS (RequireAndVerifyClientCert), and basic auth with a bcrypt hash.
 *
 * Covered: cafile → https and the right value; use_tls without cafile → the private CA is not
 * trusted → UNAVAILABLE; cafile + certfile + keyfile against a Prometheus that requires client
 * certificates → works, and without the client certificate → UNAVAILABLE; username/password right →
 * works, wrong → PERMISSION_DENIED naming the options and never the password; plain http to the
 * https port → UNAVAILABLE. Messages never carry the upstream's address.
 *
 * startPrometheus (test/support/prometheus.ts) cannot start these: it probes /-/ready and
 * /api/v1/targets over plain http without credentials, so it would time out against a web config
 * with TLS or basic auth. {@link startSecuredPrometheus} below starts Prometheus the same way
 * (promtool backfill of the sample fleet, placeholder targets carrying the host label) and probes
 * over https with the CA, client certificate and credentials.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostMetric } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type Options, startTestApp, type TestApp } from "../support/app.js";
import { type Fleet, fleetWindow, renderOpenMetrics, SAMPLE_FLEET } from "../support/fleet.js";
import { freePort, type RunningProcess, spawnLogged, waitUntil } from "../support/processes.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CPU = { host: "compute-1.example", metric: HostMetric.CPU_USAGE } as const;
const USERNAME = "watcher-reader";
// A colon in the password: basic auth splits user:password at the first colon only.
const PASSWORD = "prom-tls-pw:5e9c1a7d";
const WRONG_PASSWORD = "prom-tls-wrong:0b3f";

async function callError(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => new Error("expected an error, got an answer"),
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw err;
  return err;
}

/** A bcrypt hash made by python3-bcrypt (cost 4, bcrypt's minimum: Prometheus checks it per request). */
async function bcryptHash(password: string): Promise<string> {
  const { stdout } = await execFileAsync(
    "/usr/bin/python3",
    ["-c", "import bcrypt, os; print(bcrypt.hashpw(os.environb[b'PW'], bcrypt.gensalt(rounds=4)).decode())"],
    // The password goes through the environment, not argv, so `ps` does not show it.
    { env: { ...process.env, PW: password } },
  );
  const hash = stdout.trim();
  if (!/^\$2[aby]\$04\$.{53}$/.test(hash)) throw new Error("python3-bcrypt did not print a bcrypt hash");
  return hash;
}

/** After Promise.allSettled over starts that keep what they started: throws the first failure. */
function throwFirstFailure(results: readonly PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

interface WebConfig {
  readonly pki: TestPki;
  /** client_auth_type RequireAndVerifyClientCert with the private CA. */
  readonly requireClientCert?: boolean;
  /** basic_auth_users entry. */
  readonly basicAuth?: { readonly username: string; readonly bcryptHash: string };
}

/** Prometheus's --web.config.file (exporter-toolkit); JSON strings are valid YAML scalars. */
function webConfigYaml(web: WebConfig): string {
  const y = JSON.stringify;
  const lines = [
    "tls_server_config:",
    `  cert_file: ${y(web.pki.serverCertFile)}`,
    `  key_file: ${y(web.pki.serverKeyFile)}`,
  ];
  if (web.requireClientCert) {
    lines.push("  client_auth_type: RequireAndVerifyClientCert", `  client_ca_file: ${y(web.pki.caFile)}`);
  }
  if (web.basicAuth)
    lines.push("basic_auth_users:", `  ${y(web.basicAuth.username)}: ${y(web.basicAuth.bcryptHash)}`);
  return `${lines.join("\n")}\n`;
}

function prometheusYaml(fleet: Fleet): string {
  const y = JSON.stringify;
  // Placeholder targets (port 0, never reachable) carry the host label: host resolution reads the
  // active targets; the drop rule keeps anything a scrape returned out of the fleet's series.
  const targets = fleet.hosts.map(
    (h) => `      - targets: ["127.0.0.1:0"]\n        labels: {${y(fleet.hostLabel)}: ${y(h.fqdn)}}`,
  );
  return [
    "global: {scrape_interval: 15s}",
    "storage: {tsdb: {out_of_order_time_window: 4h}}",
    "scrape_configs:",
    `  - job_name: ${y(fleet.nodeJob)}`,
    "    static_configs:",
    ...targets,
    "    metric_relabel_configs: [{source_labels: [__name__], regex: '.+', action: drop}]",
    "",
  ].join("\n");
}

interface SecuredPrometheus {
  readonly port: number;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on 127.0.0.1 with the sample fleet (an hour of future data, so queries at
 * "now" are exact) and `web` as its --web.config.file; waits until it is ready and every fleet host
 * is an active target, probing over https with what `web` demands.
 */
async function startSecuredPrometheus(
  baseDir: string,
  name: string,
  web: WebConfig,
): Promise<SecuredPrometheus> {
  await mkdir(baseDir, { recursive: true });
  const dir = await mkdtemp(join(baseDir, `${name}-`));
  const fleet = SAMPLE_FLEET;
  const originSec = Math.floor(Date.now() / 30_000) * 30;
  await writeFile(join(dir, "fleet.om"), renderOpenMetrics(fleet, fleetWindow(originSec)));
  await execFileAsync("promtool", ["tsdb", "create-blocks-from", "openmetrics", "fleet.om", "tsdb"], {
    cwd: dir,
  });
  await writeFile(join(dir, "prometheus.yml"), prometheusYaml(fleet));
  await writeFile(join(dir, "web.yml"), webConfigYaml(web));
  const port = await freePort();
  const proc = await spawnLogged({
    name: "prometheus",
    command: "prometheus",
    args: [
      "--config.file=prometheus.yml",
      "--web.config.file=web.yml",
      "--storage.tsdb.path=tsdb",
      "--storage.tsdb.retention.time=30d",
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    logDir: dir,
    cwd: dir,
  });
  const agent = new Agent({
    connect: {
      ca: web.pki.ca,
      ...(web.requireClientCert && {
        cert: await readFile(web.pki.clientCertFile),
        key: await readFile(web.pki.clientKeyFile),
      }),
    },
  });
  const headers: Record<string, string> = {};
  if (web.basicAuth) {
    headers.authorization = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`;
  }
  const get = async (path: string) =>
    await undiciFetch(`https://127.0.0.1:${port}${path}`, {
      headers,
      dispatcher: agent,
      signal: AbortSignal.timeout(2_000),
    });
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      `${name} /-/ready over https`,
      async () => {
        const res = await get("/-/ready");
        await res.arrayBuffer();
        return res.ok;
      },
      {
        timeoutMs: 30_000,
        process: proc,
        intervalMs: 50,
      },
    );
    // Empty for ~5 s after start (scrape manager throttle); host resolution needs the targets.
    await waitUntil(
      `${name}: every fleet host in /api/v1/targets?state=active`,
      async () => {
        const res = await get("/api/v1/targets?state=active");
        const body = (await res.json()) as {
          data?: { activeTargets?: { labels?: Record<string, string> }[] };
        };
        const listed = new Set((body.data?.activeTargets ?? []).map((t) => t.labels?.[fleet.hostLabel]));
        return fleet.hosts.every((h) => listed.has(h.fqdn));
      },
      { timeoutMs: 30_000, process: proc, intervalMs: 200 },
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    await agent.close();
  }
  return { port, process: proc, stop };
}

describe("[prometheus_client] TLS and authentication against a real Prometheus", () => {
  const baseDir = join(ROOT, ".run", "prometheus-tls-auth");
  let pki: TestPki;
  /** https only. */
  let tls: SecuredPrometheus;
  /** https requiring a client certificate from the private CA. */
  let mtls: SecuredPrometheus;
  /** https and basic auth. */
  let basic: SecuredPrometheus;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    // Fails (never skips) when openssl, python3-bcrypt, promtool or prometheus is missing.
    const [made, hash] = await Promise.all([
      createTestPki({ prefix: "prometheus-tls-auth-" }),
      bcryptHash(PASSWORD),
    ]);
    pki = made;
    // Each start keeps its instance before any failure is thrown, so afterAll stops every one.
    throwFirstFailure(
      await Promise.allSettled([
        startSecuredPrometheus(baseDir, "tls", { pki }).then((p) => {
          tls = p;
        }),
        startSecuredPrometheus(baseDir, "mtls", { pki, requireClientCert: true }).then((p) => {
          mtls = p;
        }),
        startSecuredPrometheus(baseDir, "basic", {
          pki,
          basicAuth: { username: USERNAME, bcryptHash: hash },
        }).then((p) => {
          basic = p;
        }),
      ]),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.stop()));
    await Promise.allSettled([tls?.stop(), mtls?.stop(), basic?.stop()]);
    await rm(baseDir, { recursive: true, force: true });
    await pki?.remove();
  });

  async function app(options: Options): Promise<TestApp> {
    const started = await startTestApp(options);
    apps.push(started);
    return started;
  }

  /** The error of GetHostMetric, checked to carry no address of the upstream. */
  async function hostMetricError(service: TestApp, port: number): Promise<ConnectError> {
    const err = await callError(service.client.getHostMetric(CPU, { timeoutMs: 10_000 }));
    for (const leak of ["127.0.0.1", "localhost", String(port), "http://", "https://", pki.dir]) {
      expect(err.rawMessage, `message leaks ${leak}`).not.toContain(leak);
    }
    return err;
  }

  it("cafile switches to https and verifies the server with the private CA", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(tls.port),
      "prometheus_client.cafile": pki.caFile,
    });
    const res = await service.client.getHostMetric(CPU);
    expect(res.value).toBeCloseTo(31.25, 6);
    const hosts = await service.client.listHosts({});
    expect(hosts.hosts.map((h) => h.labelValue)).toContain("compute-1.example");
  });

  it("use_tls = true without cafile verifies against the default CAs: UNAVAILABLE", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(tls.port),
      "prometheus_client.use_tls": "true",
    });
    const err = await hostMetricError(service, tls.port);
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
    // The certificate chain did not verify (the server sends only its leaf, signed by the private CA).
    expect(err.rawMessage).toContain(
      "Prometheus could not be reached for targets (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    );
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_UNREACHABLE");
  });

  it("plain http to the https port: UNAVAILABLE", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(tls.port),
    });
    const err = await hostMetricError(service, tls.port);
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
  });

  it("cafile + certfile + keyfile: mutual TLS with a Prometheus that requires client certificates", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(mtls.port),
      "prometheus_client.cafile": pki.caFile,
      "prometheus_client.certfile": pki.clientCertFile,
      "prometheus_client.keyfile": pki.clientKeyFile,
    });
    const res = await service.client.getHostMetric(CPU);
    expect(res.value).toBeCloseTo(31.25, 6);
  });

  it("without certfile/keyfile that Prometheus turns the service away: UNAVAILABLE", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(mtls.port),
      "prometheus_client.cafile": pki.caFile,
    });
    const err = await hostMetricError(service, mtls.port);
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_UNREACHABLE");
  });

  it("username/password: basic auth accepted", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(basic.port),
      "prometheus_client.cafile": pki.caFile,
      "prometheus_client.username": USERNAME,
      "prometheus_client.password": PASSWORD,
    });
    const res = await service.client.getHostMetric(CPU);
    expect(res.value).toBeCloseTo(31.25, 6);
    expect(service.rawLog()).not.toContain(PASSWORD);
  });

  it("a wrong password: PERMISSION_DENIED naming the options, never the password", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(basic.port),
      "prometheus_client.cafile": pki.caFile,
      "prometheus_client.username": USERNAME,
      "prometheus_client.password": WRONG_PASSWORD,
    });
    const err = await hostMetricError(service, basic.port);
    expect(Code[err.code], err.rawMessage).toBe("PermissionDenied");
    expect(err.rawMessage).toContain("[prometheus_client] username and password");
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_UNAUTHORIZED");
    for (const secret of [WRONG_PASSWORD, PASSWORD]) {
      expect(err.rawMessage).not.toContain(secret);
      expect(JSON.stringify([...err.metadata.entries()])).not.toContain(secret);
      expect(service.rawLog()).not.toContain(secret);
    }
    // No credentials at all: the same answer.
    const anonymous = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(basic.port),
      "prometheus_client.cafile": pki.caFile,
    });
    const denied = await hostMetricError(anonymous, basic.port);
    expect(Code[denied.code], denied.rawMessage).toBe("PermissionDenied");
  });
});
