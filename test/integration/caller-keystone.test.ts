/**
 * caller_auth = keystone and tenant pass-through, on a stack of its own: the real Keystone, a real
 * Prometheus whose instances belong to two real Keystone projects (tenant-a and tenant-b), and the
 * real Aetos in front of it. Callers send their own tokens; the service validates them with
 * Keystone, and with forward_caller_token sends them on to Aetos, which confines each member to
 * its project. Its own stack because the shared one's instances belong to no Keystone project.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { ItemStatus } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type Aetos, startAetos } from "../support/aetos.js";
import { aetosPasswordOptions, type RecordingProxy, startRecordingProxy } from "../support/aetos-harness.js";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { SAMPLE_FLEET } from "../support/fleet.js";
import { type Keystone, startKeystone } from "../support/keystone.js";
import { AETOS_SERVICE_USER, type Provisioning, provisionKeystone } from "../support/keystone-provision.js";
import { freePort } from "../support/processes.js";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus.js";

const ROOT = process.cwd();
const VM_A = "11111111-1111-4111-8111-111111111111";
const VM_B = "22222222-2222-4222-8222-222222222222";
const VM_C = "33333333-3333-4333-8333-333333333333";
const VM_D = "44444444-4444-4444-8444-444444444444";
const RAM = "instance_ram_usage";

let workDir: string;
let keystone: Keystone | undefined;
let prometheus: RunningPrometheus | undefined;
let aetos: Aetos | undefined;
/** Between the service and Aetos (the catalog points here): what each request carried. */
let toAetos: RecordingProxy | undefined;
let stack: Provisioning;
const apps: TestApp[] = [];

beforeAll(async () => {
  await mkdir(join(ROOT, ".run"), { recursive: true });
  workDir = await mkdtemp(join(ROOT, ".run", "caller-keystone-"));
  keystone = await startKeystone({ workDir: join(workDir, "keystone") });
  const port = await freePort();
  toAetos = await startRecordingProxy({ port });
  const url = `${toAetos.origin}/prometheus`;
  const urls = { public: url, internal: url };
  stack = await provisionKeystone(keystone, { aetosUrls: { RegionOne: urls, RegionTwo: urls } });
  // vm-a and vm-c belong to tenant-a, vm-b and vm-d to tenant-b: the project ids exist only now.
  const projectOf = (uuid: string) =>
    uuid === VM_A || uuid === VM_C ? stack.projects.tenantA.id : stack.projects.tenantB.id;
  prometheus = await startPrometheus({
    baseDir: workDir,
    nodeExporter: false,
    fleet: { ...SAMPLE_FLEET, vms: SAMPLE_FLEET.vms.map((vm) => ({ ...vm, project: projectOf(vm.uuid) })) },
  });
  aetos = await startAetos({
    workDir: join(workDir, "aetos"),
    port,
    keystone: { url: keystone.url, ...AETOS_SERVICE_USER },
    prometheusHost: "127.0.0.1",
    prometheusPort: prometheus.port,
  });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.stop()));
  await Promise.allSettled([aetos?.stop(), keystone?.stop(), prometheus?.stop(), toAetos?.close()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function app(extra: Options): Promise<TestApp> {
  const started = await startTestApp(
    aetosPasswordOptions(stack.keystoneUrl, stack.watcher, {
      "aetos_client.region_name": "RegionOne",
      "metrics_access.caller_auth": "keystone",
      ...extra,
    }),
  );
  apps.push(started);
  return started;
}

const withToken = (token: string) => ({ headers: { "x-auth-token": token } });

describe("caller_auth = keystone, the service's own credentials upstream", () => {
  let service: TestApp;
  beforeAll(async () => {
    service = await app({});
  }, 60_000);

  it("answers a caller whose token carries an admitted role (service)", async () => {
    const { token } = await stack.token(stack.watcher);
    const res = await service.client.getInstanceMetric({ instanceId: VM_A, metric: RAM }, withToken(token));
    expect(res.result?.value).toBe(768);
    expect(res.result?.projectScope).toBe("");
  });

  it("refuses a call without x-auth-token: UNAUTHENTICATED, CALLER_CREDENTIALS_MISSING", async () => {
    const err = await callError(service.client.getInstanceMetric({ instanceId: VM_A, metric: RAM }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe("x-auth-token: a Keystone token is required (caller_auth = keystone)");
    expect(err.metadata.get("x-error-reason")).toBe("CALLER_CREDENTIALS_MISSING");
  });

  it("refuses a token Keystone does not know: UNAUTHENTICATED, CALLER_CREDENTIALS_INVALID", async () => {
    const err = await callError(
      service.client.listHosts({}, withToken("gAAAAABnot-a-token-keystone-ever-issued")),
    );
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(
      "x-auth-token: Keystone does not accept this token (expired, revoked or unknown)",
    );
    expect(err.metadata.get("x-error-reason")).toBe("CALLER_CREDENTIALS_INVALID");
  });

  it("refuses a valid token without an admitted role: PERMISSION_DENIED, naming its roles and the option", async () => {
    const { token } = await stack.token(stack.memberA);
    const err = await callError(service.client.listHosts({}, withToken(token)));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe(
      "the token's roles (member, reader) include none this service admits (admin, service; [metrics_access] caller_roles)",
    );
    expect(err.metadata.get("x-error-reason")).toBe("CALLER_NOT_ALLOWED");
  });

  it("keeps health open to probes without a token", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: service.url }));
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("never writes a caller's token into its log", async () => {
    const { token } = await stack.token(stack.watcher);
    await service.client.listHosts({}, withToken(token));
    await callError(service.client.listHosts({}, withToken(`${token}x`)));
    expect(service.rawLog()).not.toContain(token);
  });
});

describe("caller_auth = keystone with token_cache_time 1 s", () => {
  it("refuses a revoked token once Keystone's earlier word on it has expired", async () => {
    const service = await app({ "metrics_access.token_cache_time": "1" });
    const { token } = await stack.token(stack.watcher);
    const ask = () => service.client.getInstanceMetric({ instanceId: VM_A, metric: RAM }, withToken(token));
    expect((await ask()).result?.value).toBe(768);
    await stack.revokeToken(token);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const err = await callError(ask());
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.metadata.get("x-error-reason")).toBe("CALLER_CREDENTIALS_INVALID");
  }, 30_000);
});

describe("forward_caller_token: Aetos scopes each caller to its project", () => {
  let service: TestApp;
  let memberA: string;
  let memberB: string;
  let watcher: string;
  beforeAll(async () => {
    service = await app({
      "metrics_access.caller_roles": "admin,service,member",
      "aetos_client.forward_caller_token": "true",
    });
    [memberA, memberB, watcher] = (
      await Promise.all([stack.token(stack.memberA), stack.token(stack.memberB), stack.token(stack.watcher)])
    ).map((t) => t.token) as [string, string, string];
  }, 60_000);

  it("gives a member of tenant-a its own instance's value, saying the answer is confined to tenant-a", async () => {
    const res = await service.client.getInstanceMetric({ instanceId: VM_A, metric: RAM }, withToken(memberA));
    expect(res.result?.value).toBe(768);
    expect(res.result?.projectScope).toBe(stack.projects.tenantA.id);
  });

  it("gives a member of tenant-a nothing of tenant-b's instance, and says why it may be empty", async () => {
    const res = await service.client.getInstanceMetric({ instanceId: VM_B, metric: RAM }, withToken(memberA));
    expect(res.result?.value).toBeUndefined();
    expect(res.result?.seriesCount).toBe(0);
    expect(res.result?.projectScope).toBe(stack.projects.tenantA.id);
  });

  it("answers a batch of both projects' instances with tenant-a's data only, for a member of tenant-a", async () => {
    const res = await service.client.getInstanceMetrics(
      { instances: [VM_A, VM_B, VM_C, VM_D].map((instanceId) => ({ instanceId })), metrics: [RAM] },
      withToken(memberA),
    );
    const byId = new Map(res.items.map((i) => [i.instanceId, i]));
    expect(byId.get(VM_A)?.result?.value).toBe(768);
    expect(byId.get(VM_C)?.result?.value).toBe(800);
    expect(byId.get(VM_B)?.status).toBe(ItemStatus.NO_DATA);
    expect(byId.get(VM_D)?.status).toBe(ItemStatus.NO_DATA);
    for (const item of res.items) expect(item.result?.projectScope).toBe(stack.projects.tenantA.id);
  });

  it("gives a member of tenant-b its instance and not tenant-a's, even when both ask at the same moment", async () => {
    // Identical queries in flight are sent once, but never shared between two callers' tokens.
    const ask = (instanceId: string, token: string) =>
      service.client.getInstanceMetric({ instanceId, metric: RAM }, withToken(token));
    const [bOwn, aOther, bOther, aOwn] = await Promise.all([
      ask(VM_B, memberB),
      ask(VM_B, memberA),
      ask(VM_A, memberB),
      ask(VM_A, memberA),
    ]);
    expect(bOwn.result?.seriesCount).toBe(2);
    expect(bOwn.result?.projectScope).toBe(stack.projects.tenantB.id);
    expect(aOther.result?.seriesCount).toBe(0);
    expect(bOther.result?.seriesCount).toBe(0);
    expect(aOwn.result?.value).toBe(768);
  });

  it("sends Aetos the caller's token, and Prometheus's timeout from the caller's deadline", async () => {
    const sent = toAetos?.exchanges.length ?? 0;
    await service.client.getInstanceMetric(
      { instanceId: VM_C, metric: RAM },
      { ...withToken(memberA), timeoutMs: 5_000 },
    );
    const queries = (toAetos?.exchanges.slice(sent) ?? []).filter((e) => e.path.includes("/api/v1/query?"));
    expect(queries).toHaveLength(1);
    expect(queries[0]?.requestHeaders["x-auth-token"]).toBe(memberA);
    // Aetos 3 passes query, time and timeout on to Prometheus.
    const timeout = Number(new URL(queries[0]?.path ?? "", "http://x").searchParams.get("timeout"));
    expect(timeout).toBeGreaterThan(0.1);
    expect(timeout).toBeLessThanOrEqual(4.8);
  });

  it("gives a privileged caller every project's instances, unscoped", async () => {
    const res = await service.client.getInstanceMetric({ instanceId: VM_B, metric: RAM }, withToken(watcher));
    expect(res.result?.seriesCount).toBe(2);
    expect(res.result?.projectScope).toBe("");
  });

  it("answers a member's ListHosts and host metrics as Aetos decides: PERMISSION_DENIED, UPSTREAM_DENIED_CALLER", async () => {
    for (const call of [
      () => service.client.listHosts({}, withToken(memberA)),
      () =>
        service.client.getHostMetric(
          { host: "compute-1.example", metric: "host_cpu_usage" },
          withToken(memberA),
        ),
    ]) {
      const err = await callError(call());
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.metadata.get("x-error-reason")).toBe("UPSTREAM_DENIED_CALLER");
      expect(err.rawMessage).toMatch(/admin or service role/);
    }
  });

  it("lists hosts for a privileged caller with its own token", async () => {
    const res = await service.client.listHosts({}, withToken(watcher));
    expect(res.hosts.map((h) => h.labelValue)).toContain("compute-1.example");
  });
});
