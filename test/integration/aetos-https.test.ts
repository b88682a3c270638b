/**
 * Aetos over https behind a private CA, verified with [watcher_clients_auth] cafile: the fix of
 * Watcher's stack, where python-observabilityclient replaces the configured CA with the system store
 * (`verify=True`), so an Aetos behind a private CA fails there.
 *
 * Real components, all owned by this file: a Keystone (http; start-up only talks to it), provisioned
 * with the metric-storage endpoint https://127.0.0.1:<port>/prometheus in RegionOne, and the real
 * Aetos under uWSGI's https router (`--https 127.0.0.1:<port>,<cert>,<key>`) with a certificate from
 * a CA made here with openssl, in front of the shared stack's Prometheus.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Aetos, startAetos } from "../support/aetos.js";
import { aetosPasswordOptions } from "../support/aetos-harness.js";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { type Keystone, startKeystone } from "../support/keystone.js";
import {
  AETOS_SERVICE_USER,
  type ProvisionedUser,
  provisionKeystone,
} from "../support/keystone-provision.js";
import { freePort, throwFirstFailure } from "../support/processes.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const stack = inject("stack");
const CPU = { host: "compute-1.example", metric: "host_cpu_usage" } as const;

describe("Aetos over https behind a private CA", () => {
  let workDir: string;
  let pki: TestPki;
  let keystone: Keystone;
  let aetos: Aetos;
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
        startAetos({
          workDir: join(workDir, "aetos"),
          port,
          https: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, ca: pki.ca },
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
    direct = (await prometheus.client.getHostMetric(CPU)).result?.value;
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
    // Each call is evaluated at its own "now": the rate's window moves between the two, which can
    // change the last bits of the float (31.25 against 31.25000000000003), never more.
    expect(res.result?.value).toBeCloseTo(direct ?? Number.NaN, 9);
    const hosts = await service.client.listHosts({});
    expect(hosts.hosts.map((h) => h.labelValue)).toContain("compute-1.example");
    // It went through this Aetos (uWSGI logs every request it routed).
    const log = await readFile(aetos.logFile, "utf8");
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
    expect(res.result?.value).toBeCloseTo(direct ?? Number.NaN, 9);
  });
});
