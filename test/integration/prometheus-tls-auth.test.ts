/**
 * [prometheus_client] TLS and authentication against a real Prometheus 2.42 served with
 * `--web.config.file` (exporter-toolkit): https with a certificate from a private CA made here with
 * openssl, mutual TLS (RequireAndVerifyClientCert), and basic auth with a bcrypt hash.
 *
 * Covered: cafile → https and the right value; use_tls without cafile → the private CA is not
 * trusted → UNAVAILABLE; cafile + certfile + keyfile against a Prometheus that requires client
 * certificates → works, and without the client certificate → UNAVAILABLE; username/password right →
 * works, wrong → UNAVAILABLE (UPSTREAM_UNAUTHORIZED) naming the options and never the password; plain http to the
 * https port → UNAVAILABLE. Messages never carry the upstream's address.
 *
 * Each Prometheus comes from startPrometheus (test/support/prometheus.ts) with a `--web.config.file`
 * and the probe access that web config demands.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { throwFirstFailure } from "../support/processes.js";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;
const USERNAME = "watcher-reader";
// A colon in the password: basic auth splits user:password at the first colon only.
const PASSWORD = "prom-tls-pw:5e9c1a7d";
const WRONG_PASSWORD = "prom-tls-wrong:0b3f";

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

/**
 * startPrometheus (the sample fleet, no node exporter) with `web` as its --web.config.file, written
 * to `<baseDir>/<name>-web.yml`; the start-up probes go over https with what `web` demands.
 */
async function startPrometheusWithWebConfig(
  baseDir: string,
  name: string,
  web: WebConfig,
): Promise<RunningPrometheus> {
  await mkdir(baseDir, { recursive: true });
  const webConfigFile = join(baseDir, `${name}-web.yml`);
  await writeFile(webConfigFile, webConfigYaml(web));
  return await startPrometheus({
    baseDir,
    nodeExporter: false,
    extraArgs: [`--web.config.file=${webConfigFile}`],
    probeAccess: {
      ca: web.pki.ca,
      ...(web.requireClientCert && {
        cert: await readFile(web.pki.clientCertFile),
        key: await readFile(web.pki.clientKeyFile),
      }),
      ...(web.basicAuth && {
        authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`,
      }),
    },
  });
}

describe("[prometheus_client] TLS and authentication against a real Prometheus", () => {
  const baseDir = join(ROOT, ".run", "prometheus-tls-auth");
  let pki: TestPki;
  /** https only. */
  let tls: RunningPrometheus;
  /** https requiring a client certificate from the private CA. */
  let mtls: RunningPrometheus;
  /** https and basic auth. */
  let basic: RunningPrometheus;
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
        startPrometheusWithWebConfig(baseDir, "tls", { pki }).then((p) => {
          tls = p;
        }),
        startPrometheusWithWebConfig(baseDir, "mtls", { pki, requireClientCert: true }).then((p) => {
          mtls = p;
        }),
        startPrometheusWithWebConfig(baseDir, "basic", {
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
    expect(res.result?.value).toBeCloseTo(31.25, 6);
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
    expect(res.result?.value).toBeCloseTo(31.25, 6);
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
    expect(res.result?.value).toBeCloseTo(31.25, 6);
    expect(service.rawLog()).not.toContain(PASSWORD);
  });

  it("a wrong password: UNAVAILABLE (UPSTREAM_UNAUTHORIZED) naming the options, never the password", async () => {
    const service = await app({
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(basic.port),
      "prometheus_client.cafile": pki.caFile,
      "prometheus_client.username": USERNAME,
      "prometheus_client.password": WRONG_PASSWORD,
    });
    const err = await hostMetricError(service, basic.port);
    expect(Code[err.code], err.rawMessage).toBe("Unavailable");
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
    expect(Code[denied.code], denied.rawMessage).toBe("Unavailable");
    expect(denied.metadata.get("x-error-reason")).toBe("UPSTREAM_UNAUTHORIZED");
  });
});
