/**
 * The Aetos datasource against the shared real stack (Keystone Zed, Aetos 3 under /prometheus in
 * front of the fleet's Prometheus): the same numbers as direct Prometheus, password and
 * application-credential auth, catalog selection by interface and region, and the start-up and
 * call errors. Read-only towards the shared Keystone and Aetos: other files use them in parallel.
 */
import { clone, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigError } from "../../src/config/load.js";
import { MetricsAccessError } from "../../src/errors.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import {
  Aggregate,
  type ListHostsResponse,
  ListHostsResponseSchema,
  TargetHealth,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import {
  aetosAppCredentialOptions,
  aetosPasswordOptions,
  tokenIssuedLines,
} from "../support/aetos-harness.js";
import { type Options, startTestApp, type TestApp } from "../support/app.js";
import { iniText, runMain } from "../support/interop-process.js";
import { freePort } from "../support/processes.js";

const stack = inject("stack");
const VM_B = "22222222-2222-4222-8222-222222222222";
const HOST = "compute-1.example";
const AGGREGATES = [Aggregate.MEAN, Aggregate.MAX, Aggregate.MIN, Aggregate.COUNT];
const PERIODS = [300, 600];

const NOT_PRIVILEGED = "keystone token has neither the admin nor the service role";

const watcherAetos = (extra: Options = {}): Options =>
  aetosPasswordOptions(stack.keystoneUrl, stack.watcher, {
    "aetos_client.region_name": "RegionOne",
    ...extra,
  });

/** Rejects with what startTestApp threw; fails the test when it started. */
async function startFailure(options: Options): Promise<unknown> {
  let app: TestApp | undefined;
  try {
    app = await startTestApp(options);
  } catch (err) {
    return err;
  }
  await app.stop();
  throw new Error("the service started, but it should have refused to");
}

function expectRelativelyClose(a: number | undefined, b: number | undefined): void {
  expect(a).toBeDefined();
  expect(b).toBeDefined();
  const x = a ?? Number.NaN;
  const y = b ?? Number.NaN;
  expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(x), Math.abs(y)));
}

async function callError(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe("Aetos and direct Prometheus give the same answers", () => {
  let direct: TestApp;
  let aetos: TestApp;

  beforeAll(async () => {
    [direct, aetos] = await Promise.all([
      startTestApp({
        "watcher_datasources.datasources": "prometheus",
        "prometheus_client.host": stack.prometheus.host,
        "prometheus_client.port": String(stack.prometheus.port),
      }),
      // The service role meets require_privileged_role: the option costs such a token nothing.
      startTestApp(watcherAetos({ "aetos_client.require_privileged_role": "true" })),
    ]);
  });
  afterAll(async () => {
    await Promise.all([direct?.stop(), aetos?.stop()]);
  });

  it("authenticated with the password and found RegionOne's endpoint", () => {
    const issued = tokenIssuedLines(aetos.logs);
    expect(issued).toHaveLength(1);
    expect(issued[0]?.roles).toContain("service");
    const found = aetos.logs.find((l) => l.msg === "datasource: Aetos, found in the Keystone catalog");
    expect(found).toMatchObject({ endpoint: stack.aetosUrl, interface: "public", region: "RegionOne" });
    expect(tokenIssuedLines(direct.logs)).toHaveLength(0);
    expect(aetos.logs.filter((l) => String(l.msg).startsWith(NOT_PRIVILEGED))).toEqual([]);
  });

  for (const aggregate of AGGREGATES) {
    for (const period of PERIODS) {
      it(`host CPU and RAM of ${HOST}, instance CPU and RAM of vm-b: ${Aggregate[aggregate]}, ${period} s`, async () => {
        const p = { seconds: BigInt(period) };
        const host = (metric: string) => ({ host: HOST, metric, aggregate, period: p });
        const vm = (metric: string) => ({ instanceId: VM_B, metric, aggregate, period: p, vcpus: 2 });
        const pairs = [
          ...["host_cpu_usage", "host_ram_usage"].map((m) =>
            Promise.all([direct.client.getHostMetric(host(m)), aetos.client.getHostMetric(host(m))]),
          ),
          ...["instance_cpu_usage", "instance_ram_usage"].map((m) =>
            Promise.all([direct.client.getInstanceMetric(vm(m)), aetos.client.getInstanceMetric(vm(m))]),
          ),
        ];
        for (const [d, a] of await Promise.all(pairs)) {
          expect(a.result?.metric).toBe(d.result?.metric);
          expect(a.result?.query).toBe(d.result?.query);
          expect(a.result?.unit).toBe(d.result?.unit);
          expect(a.result?.labelName).toBe(d.result?.labelName);
          expect(a.result?.labelValue).toBe(d.result?.labelValue);
          expect(a.result?.seriesCount).toBe(d.result?.seriesCount);
          expect(a.result?.seriesCount).toBeGreaterThan(0);
          expectRelativelyClose(a.result?.value, d.result?.value);
        }
      });
    }
  }

  it("gives the fleet's known value, host CPU mean of compute-1 ≈ 31.25 %", async () => {
    const res = await aetos.client.getHostMetric({ host: "compute-1", metric: "host_cpu_usage" });
    expect(res.result?.labelValue).toBe(HOST);
    expect(res.result?.value).toBeCloseTo(31.25, 6);
  });

  it("lists the same hosts, with the same targets", async () => {
    const [d, a] = await Promise.all([direct.client.listHosts({}), aetos.client.listHosts({})]);
    expect(a.hosts.length).toBeGreaterThan(5);
    // Health is the state of the moment: each service reads the targets when its cached list is older
    // than target_refresh_interval, and a placeholder target goes from "unknown" to "down" at its
    // first scrape, so the two lists may have been read either side of it. Everything else is equal.
    const health = (r: ListHostsResponse) => r.hosts.flatMap((h) => h.targets.map((t) => t.health));
    for (const value of [...health(a), ...health(d)]) {
      expect([TargetHealth.UP, TargetHealth.DOWN, TargetHealth.UNKNOWN]).toContain(value);
    }
    const withoutHealth = (r: ListHostsResponse) => {
      const copy = clone(ListHostsResponseSchema, r);
      for (const target of copy.hosts.flatMap((h) => h.targets)) target.health = TargetHealth.UNSPECIFIED;
      return toJson(ListHostsResponseSchema, copy);
    };
    expect(withoutHealth(a)).toEqual(withoutHealth(d));
  });

  it("answers NOT_FOUND for an unknown host through Aetos too", async () => {
    const err = await callError(
      aetos.client.getHostMetric({ host: "no-such-host.example", metric: "host_cpu_usage" }),
    );
    expect(err.code).toBe(Code.NotFound);
  });
});

describe("Aetos datasource: credentials and catalog selection", () => {
  it("serves with an application credential (id + secret)", async () => {
    const app = await startTestApp(
      aetosAppCredentialOptions(stack.keystoneUrl, stack.appCredential, {
        "aetos_client.region_name": "RegionOne",
      }),
    );
    try {
      expect(tokenIssuedLines(app.logs)[0]?.roles).toContain("service");
      const res = await app.client.getHostMetric({ host: HOST, metric: "host_cpu_usage" });
      expect(res.result?.value).toBeCloseTo(31.25, 6);
      const hosts = await app.client.listHosts({});
      expect(hosts.hosts.map((h) => h.labelValue)).toContain(HOST);
    } finally {
      await app.stop();
    }
  });

  it("picks RegionTwo's internal endpoint for interface internal, region RegionTwo, and serves", async () => {
    const app = await startTestApp(
      watcherAetos({ "aetos_client.interface": "internal", "aetos_client.region_name": "RegionTwo" }),
    );
    try {
      const found = app.logs.find((l) => l.msg === "datasource: Aetos, found in the Keystone catalog");
      expect(found).toMatchObject({
        endpoint: stack.aetosRegionTwoUrl,
        interface: "internal",
        region: "RegionTwo",
      });
      expect(String(found?.endpoint)).toContain("//localhost:");
      const res = await app.client.getInstanceMetric({
        instanceId: VM_B,
        metric: "instance_ram_usage",
        aggregate: Aggregate.MAX,
      });
      expect(res.result?.value).toBeCloseTo(2816, 6);
    } finally {
      await app.stop();
    }
  });

  it("accepts Watcher's internalURL spelling", async () => {
    const app = await startTestApp(
      watcherAetos({ "aetos_client.interface": "internalURL", "aetos_client.region_name": "RegionTwo" }),
    );
    try {
      const found = app.logs.find((l) => l.msg === "datasource: Aetos, found in the Keystone catalog");
      expect(found).toMatchObject({ endpoint: stack.aetosRegionTwoUrl, interface: "internal" });
    } finally {
      await app.stop();
    }
  });
});

describe("Aetos datasource: start-up refusals", () => {
  it("refuses to start when the catalog has no metric-storage, naming type, interface, region and the catalog", async () => {
    const err = await startFailure(
      aetosPasswordOptions(stack.keystoneUrl, stack.watcherNoCatalog, {
        "aetos_client.interface": "internal",
        "aetos_client.region_name": "RegionOne",
      }),
    );
    expect(err).toBeInstanceOf(MetricsAccessError);
    const e = err as MetricsAccessError;
    expect(e.code).toBe("failed_precondition");
    expect(e.reason).toBe("CATALOG_NO_ENDPOINT");
    expect(e.message).toContain("metric-storage");
    expect(e.message).toContain("interface internal");
    expect(e.message).toContain("region RegionOne");
    expect(e.message).toMatch(/holds: identity\b/);
  });

  it("refuses to start for a region without the endpoint, naming it and listing every region's endpoints", async () => {
    const err = await startFailure(watcherAetos({ "aetos_client.region_name": "Nowhere" }));
    expect(err).toBeInstanceOf(MetricsAccessError);
    const e = err as MetricsAccessError;
    expect(e.code).toBe("failed_precondition");
    expect(e.message).toContain("metric-storage");
    expect(e.message).toContain("interface public");
    expect(e.message).toContain("region Nowhere");
    for (const listed of [
      "public in RegionOne",
      "internal in RegionOne",
      "public in RegionTwo",
      "internal in RegionTwo",
    ]) {
      expect(e.message).toContain(listed);
    }
  });

  it("refuses to start when Keystone refuses the password, naming [watcher_clients_auth], the user, its domain and the project", async () => {
    const wrong = "not-the-password";
    const err = await startFailure(
      aetosPasswordOptions(stack.keystoneUrl, { ...stack.watcher, password: wrong }),
    );
    expect(err).toBeInstanceOf(MetricsAccessError);
    const e = err as MetricsAccessError;
    expect(e.code).toBe("unavailable");
    expect(e.reason).toBe("KEYSTONE_REFUSED");
    const w = stack.watcher;
    expect(e.message).toBe(
      `Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for user "${w.username}" in domain id "${w.userDomainId}", project "${w.projectName}" in domain id "${w.projectDomainId}"`,
    );
    expect(e.message).not.toContain(wrong);
    expect(e.message).not.toContain(w.password);
  });

  it("refuses to start when Keystone refuses an application credential's secret, naming the credential", async () => {
    const err = await startFailure(
      aetosAppCredentialOptions(stack.keystoneUrl, { id: stack.appCredential.id, secret: "not-the-secret" }),
    );
    expect(err).toBeInstanceOf(MetricsAccessError);
    const e = err as MetricsAccessError;
    expect(e.reason).toBe("KEYSTONE_REFUSED");
    expect(e.message).toBe(
      `Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for application credential id "${stack.appCredential.id}"`,
    );
    expect(e.message).not.toContain("not-the-secret");
    expect(e.message).not.toContain(stack.appCredential.secret);
  });

  it("refuses to start a reader-only user with require_privileged_role = true, naming the user, the roles and the option", async () => {
    const r = stack.readerA;
    const err = await startFailure(
      aetosPasswordOptions(stack.keystoneUrl, r, {
        "aetos_client.region_name": "RegionOne",
        "aetos_client.require_privileged_role": "true",
      }),
    );
    expect(err).toBeInstanceOf(MetricsAccessError);
    const e = err as MetricsAccessError;
    expect(e.code).toBe("failed_precondition");
    expect(e.reason).toBe("KEYSTONE_ROLE_INSUFFICIENT");
    expect(e.message).toContain(
      `the Keystone token of user "${r.username}" in domain id "${r.userDomainId}", project "${r.projectName}" in domain id "${r.projectDomainId}" has neither the admin nor the service role (roles: reader)`,
    );
    expect(e.message).toContain("[aetos_client] require_privileged_role is true");
    expect(e.message).not.toContain(r.password);
  });

  it("the real process exits 1 for a reader-only user with require_privileged_role = true, saying why on stderr", async () => {
    const result = await runMain({
      "watcher.conf": iniText({
        ...aetosPasswordOptions(stack.keystoneUrl, stack.readerA, {
          "aetos_client.require_privileged_role": "true",
        }),
        "metrics_access.listen": "127.0.0.1:0",
        "metrics_access.admin_listen": "127.0.0.1:0",
      }),
    });
    expect(result.signal).toBeNull();
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      /^metrics-access: cannot start: the Keystone token of user .* has neither the admin nor the service role \(roles: reader\) and \[aetos_client\] require_privileged_role is true/m,
    );
    expect(result.stdout).toContain('"reason":"KEYSTONE_ROLE_INSUFFICIENT"');
    expect(result.stdout).not.toContain("serving gRPC");
    expect(result.stdout + result.stderr).not.toContain(stack.readerA.password);
  }, 30_000);

  it("refuses to start when Keystone cannot be reached", async () => {
    const closed = await freePort();
    const err = await startFailure(
      watcherAetos({ "watcher_clients_auth.auth_url": `http://127.0.0.1:${closed}/v3` }),
    );
    expect(err).toBeInstanceOf(MetricsAccessError);
    const e = err as MetricsAccessError;
    expect(e.code).toBe("unavailable");
    expect(e.reason).toBe("UPSTREAM_UNREACHABLE");
    expect(e.message).toContain("Keystone could not be reached");
  });

  it("rejects prometheus and aetos both in [watcher_datasources] as a configuration error", async () => {
    const err = await startFailure(
      watcherAetos({
        "watcher_datasources.datasources": "prometheus,aetos",
        "prometheus_client.host": stack.prometheus.host,
        "prometheus_client.port": String(stack.prometheus.port),
      }),
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join("\n")).toMatch(
      /\[watcher_datasources\] datasources: prometheus and aetos cannot both be configured/,
    );
  });

  it("the real process exits 1 and says on stderr what the catalog lacks", async () => {
    const result = await runMain({
      "watcher.conf": iniText({
        ...aetosPasswordOptions(stack.keystoneUrl, stack.watcherNoCatalog),
        "metrics_access.listen": "127.0.0.1:0",
      }),
    });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^metrics-access: cannot start: no metric-storage endpoint for interface public in any region .*holds: identity/m,
    );
    // The JSON log on stdout has the fatal line too, and nothing listened.
    expect(result.stdout).toContain('"level":"fatal"');
    expect(result.stdout).not.toContain("serving gRPC");
  }, 30_000);
});

describe("Aetos datasource: a user with only the reader role", () => {
  let reader: TestApp;

  beforeAll(async () => {
    reader = await startTestApp(
      aetosPasswordOptions(stack.keystoneUrl, stack.readerA, { "aetos_client.region_name": "RegionOne" }),
    );
  });
  afterAll(async () => {
    await reader?.stop();
  });

  it("starts (Keystone accepts it and its catalog has the endpoint)", () => {
    expect(tokenIssuedLines(reader.logs)[0]?.roles).toEqual(["reader"]);
  });

  it("warns once at start-up, naming its roles and what they hide", async () => {
    // Calls after the start (and any renewal) add no other warning: it is the start's.
    await reader.client.getInstanceMetric({ instanceId: VM_B, metric: "instance_ram_usage" });
    const warnings = reader.logs.filter((l) => String(l.msg).startsWith(NOT_PRIVILEGED));
    expect(warnings).toHaveLength(1);
    const r = stack.readerA;
    expect(warnings[0]).toMatchObject({
      level: "warn",
      roles: ["reader"],
      identity: `user "${r.username}" in domain id "${r.userDomainId}", project "${r.projectName}" in domain id "${r.projectDomainId}"`,
    });
    const msg = String(warnings[0]?.msg);
    expect(msg).toContain("(roles: reader)");
    expect(msg).toContain("Aetos confines every query to the token's project");
    expect(msg).toContain("instances of other projects answer with no value");
    expect(msg).toContain("ListHosts and host metrics fail (UNAVAILABLE, UPSTREAM_FORBIDDEN)");
    expect(msg).toContain("require_privileged_role");
    // Logged before the service served.
    const at = (text: string) => reader.logs.findIndex((l) => String(l.msg).startsWith(text));
    expect(at(NOT_PRIVILEGED)).toBeLessThan(at("serving gRPC"));
  });

  it("is ready: the gRPC health service answers SERVING (the readiness probe passes through Aetos)", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: reader.url }));
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("gets UNAVAILABLE (UPSTREAM_FORBIDDEN) from ListHosts, naming the admin or service role", async () => {
    const err = await callError(reader.client.listHosts({}));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/admin or service role/);
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_FORBIDDEN");
  });

  it("gets no data, not an error, from GetInstanceMetric: Aetos confines a reader's query to its project", async () => {
    // Aetos adds project='<tenant-a id>' to the query; vm-b belongs to another project. The answer
    // cannot tell this from a VM without samples (Watcher's datasource cannot either).
    const res = await reader.client.getInstanceMetric({ instanceId: VM_B, metric: "instance_ram_usage" });
    expect(res.result?.seriesCount).toBe(0);
    expect(res.result?.value).toBeUndefined();
    expect(res.result?.query).not.toContain("project");
  });

  it("gets UNAVAILABLE from GetHostMetric (the host lookup reads the targets)", async () => {
    const err = await callError(reader.client.getHostMetric({ host: HOST, metric: "host_cpu_usage" }));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_FORBIDDEN");
    expect(err.rawMessage).toMatch(/admin or service role/);
  });
});
