/**
 * The Dockerfile, built and run the way an operator would, with podman on this machine: the image
 * builds from the unmodified `FROM node:24-slim` (a local stand-in of the official image, see
 * scripts/container-base.sh), holds the production dependencies only, and runs with a read-only
 * root filesystem, as uid 1000, without capabilities, against the suite's real Prometheus: it
 * answers the gRPC health check and GetHostMetric, its HEALTHCHECK passes, and `podman stop`'s
 * SIGTERM reaches Node, which drains and exits 0.
 *
 * All podman state lives in $PODMAN_SCRATCH (scripts/test.sh sets it), or in a directory of its
 * own under .run that this file removes at the end.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";
import { freePort, waitUntil } from "../support/processes.js";

const stack = inject("stack");
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const IMAGE = `localhost/metrics-access:test-${process.pid}`;
const NAME = `metrics-access-test-${process.pid}`;
const OWN_SCRATCH = process.env.PODMAN_SCRATCH === undefined;
const SCRATCH = process.env.PODMAN_SCRATCH ?? join(ROOT, ".run", `podman-${process.pid}`);
const STOP_TIMEOUT_S = 10;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program to its end (SIGKILL after `timeoutMs`), collecting its output; never rejects. */
function run(command: string, args: readonly string[], timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, PODMAN_SCRATCH: SCRATCH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      stderr += `spawn error: ${err.message}\n`;
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

function podman(args: readonly string[], timeoutMs = 60_000): Promise<Outcome> {
  return run("bash", [join(ROOT, "scripts/podman.sh"), ...args], timeoutMs);
}

/** podman, which must succeed: otherwise the error carries the command and the end of its output. */
async function mustPodman(args: readonly string[], timeoutMs = 60_000): Promise<Outcome> {
  const outcome = await podman(args, timeoutMs);
  if (outcome.code !== 0) {
    const tail = `${outcome.stdout}\n${outcome.stderr}`.trim().split("\n").slice(-40).join("\n");
    throw new Error(`podman ${args.join(" ")} exited ${outcome.code}:\n${tail}`);
  }
  return outcome;
}

/** The parts of `podman image inspect` and `podman inspect` this file reads. */
interface ImageInspect {
  readonly Size: number;
  readonly Config: {
    readonly User?: string;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[];
    readonly Cmd?: readonly string[] | null;
    readonly ExposedPorts?: Readonly<Record<string, unknown>>;
    readonly Labels?: Readonly<Record<string, string>>;
  };
  readonly Healthcheck?: { readonly Test?: readonly string[]; readonly Timeout?: number };
}
interface ContainerInspect {
  readonly State: {
    readonly Running: boolean;
    readonly Pid: number;
    readonly ExitCode: number;
    readonly Health?: { readonly Status?: string };
    readonly Healthcheck?: { readonly Status?: string };
  };
}

async function inspectImage(): Promise<ImageInspect> {
  const [image] = JSON.parse((await mustPodman(["image", "inspect", IMAGE])).stdout) as ImageInspect[];
  if (!image) throw new Error(`no image ${IMAGE}`);
  return image;
}

async function inspectContainer(): Promise<ContainerInspect> {
  const [container] = JSON.parse((await mustPodman(["inspect", NAME])).stdout) as ContainerInspect[];
  if (!container) throw new Error(`no container ${NAME}`);
  return container;
}

async function healthStatus(target: string): Promise<HealthCheckResponse_ServingStatus | undefined> {
  const client = grpcClient(target);
  try {
    const check = await unary(client, Health.method.check, { service: "" }, { timeoutMs: 2_000 });
    return check.code === grpc.status.OK ? check.response?.status : undefined;
  } finally {
    closeClient(client);
  }
}

const packageJson = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  description: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

beforeAll(async () => {
  const base = await run("bash", [join(ROOT, "scripts/container-base.sh")], 10 * 60_000);
  expect(base.code, `scripts/container-base.sh failed:\n${base.stderr}`).toBe(0);
  console.log(base.stdout.trim());

  // npm inside the build uses the registry this machine's npm uses.
  const registry = await run("npm", ["config", "get", "registry"], 30_000);
  expect(registry.code, registry.stderr).toBe(0);
  const build = await mustPodman(
    [
      "build",
      "--pull=never",
      "--format",
      "docker",
      "--network",
      "host",
      "--build-arg",
      `NPM_CONFIG_REGISTRY=${registry.stdout.trim()}`,
      "--tag",
      IMAGE,
      ROOT,
    ],
    10 * 60_000,
  );
  const image = await inspectImage();
  const node = await mustPodman([
    "run",
    "--rm",
    "--network",
    "none",
    "--entrypoint",
    "node",
    IMAGE,
    "--version",
  ]);
  console.log(
    `${IMAGE} built in ${(build.ms / 1000).toFixed(1)} s: ${(image.Size / 1e6).toFixed(0)} MB, Node ${node.stdout.trim()}`,
  );
}, 15 * 60_000);

afterAll(async () => {
  await podman(["rm", "--force", "--time", "0", NAME]);
  await podman(["rmi", "--force", IMAGE]);
  if (OWN_SCRATCH) await podman(["--remove"]);
}, 60_000);

describe("the image", () => {
  it("says what it is and how it runs: labels, non-root user, ports, health check, entrypoint", async () => {
    const image = await inspectImage();
    expect(image.Config.Labels).toMatchObject({
      "org.opencontainers.image.title": "metrics-access",
      "org.opencontainers.image.description": packageJson.description,
      "org.opencontainers.image.licenses": "Apache-2.0",
      "org.opencontainers.image.version": packageJson.version,
    });
    expect(image.Config.User).toBe("1000:1000");
    expect(Object.keys(image.Config.ExposedPorts ?? {}).sort()).toEqual(["50051/tcp", "9464/tcp"]);
    expect(image.Healthcheck?.Test).toEqual(["CMD", "node", "/app/dist/main.js", "probe"]);
    expect(image.Healthcheck?.Timeout).toBe(5e9);
    expect(image.Config.Entrypoint).toEqual(["node", "/app/dist/main.js"]);
    // Probes and scrapes come from outside the container: the admin port listens on every interface.
    expect(image.Config.Env).toContain("METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN=0.0.0.0:9464");
    expect(image.Config.Env).toContain("NODE_ENV=production");
  });

  it("holds the compiled service and the production dependencies, none of the development ones", async () => {
    const listing = await mustPodman([
      "run",
      "--rm",
      "--network",
      "none",
      "--read-only",
      "--entrypoint",
      "node",
      IMAGE,
      "-e",
      [
        "const fs = require('node:fs');",
        "const names = fs.readdirSync('/app/node_modules').filter((n) => !n.startsWith('.'))",
        "  .flatMap((n) => n.startsWith('@') ? fs.readdirSync('/app/node_modules/' + n).map((m) => n + '/' + m) : [n]);",
        "console.log(JSON.stringify({ app: fs.readdirSync('/app').sort(), names }));",
      ].join("\n"),
    ]);
    const { app, names } = JSON.parse(listing.stdout) as { app: string[]; names: string[] };
    expect(app).toEqual(["LICENSE", "dist", "node_modules", "package.json"]);
    for (const name of Object.keys(packageJson.dependencies)) expect(names).toContain(name);
    for (const name of Object.keys(packageJson.devDependencies)) expect(names).not.toContain(name);
  });
});

describe("a container of it, read-only, as uid 1000, against the test Prometheus", () => {
  let grpcTarget = "";
  let adminUrl = "";

  beforeAll(async () => {
    const [grpcPort, adminPort] = [await freePort(), await freePort()];
    grpcTarget = `127.0.0.1:${grpcPort}`;
    adminUrl = `http://127.0.0.1:${adminPort}`;
    await mustPodman([
      "run",
      "--detach",
      "--pull=never",
      "--name",
      NAME,
      "--network",
      "host",
      // Not even the tmpfs podman mounts on /tmp and /run by default: nothing is writable.
      "--read-only",
      "--read-only-tmpfs=false",
      "--cap-drop",
      "all",
      "--security-opt",
      "no-new-privileges",
      // Host network: ports of their own, not the image's defaults, which may be taken here.
      "--env",
      `METRICS_ACCESS__METRICS_ACCESS__LISTEN=${grpcTarget}`,
      "--env",
      `METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN=127.0.0.1:${adminPort}`,
      "--env",
      `METRICS_ACCESS__PROMETHEUS_CLIENT__HOST=${stack.prometheus.host}`,
      "--env",
      `METRICS_ACCESS__PROMETHEUS_CLIENT__PORT=${stack.prometheus.port}`,
      IMAGE,
    ]);
    await waitUntil(
      "the container's gRPC health check to say SERVING",
      async () => (await healthStatus(grpcTarget)) === HealthCheckResponse_ServingStatus.SERVING,
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch(async (err: unknown) => {
      const logs = await podman(["logs", NAME]);
      throw new Error(`${String(err)}\n${logs.stdout}\n${logs.stderr}`);
    });
  }, 60_000);

  it("runs Node as PID 1 of the container, as uid 1000, without capabilities", async () => {
    const { State } = await inspectContainer();
    expect(State.Running).toBe(true);
    const status = await readFile(`/proc/${State.Pid}/status`, "utf8");
    const field = (name: string) =>
      status
        .split("\n")
        .find((l) => l.startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim()
        .split(/\s+/) ?? [];
    expect(field("Uid")).toEqual(["1000", "1000", "1000", "1000"]);
    expect(field("Gid")).toEqual(["1000", "1000", "1000", "1000"]);
    expect(field("NSpid").at(-1)).toBe("1");
    expect(field("CapEff")).toEqual(["0000000000000000"]);
    const cmdline = (await readFile(`/proc/${State.Pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
    expect(cmdline).toEqual(["node", "/app/dist/main.js"]);
  });

  it("answers the gRPC health check, GetHostMetric from the test Prometheus, and /healthz", async () => {
    expect(await healthStatus(grpcTarget)).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const client = createClient(MetricsService, createGrpcTransport({ baseUrl: `http://${grpcTarget}` }));
    const res = await client.getHostMetric({ host: "compute-1.example", metric: "host_cpu_usage" });
    expect(res.result?.value).toBeCloseTo(31.25, 6);
    expect(res.result?.labelValue).toBe("compute-1.example");
    expect((await fetch(`${adminUrl}/healthz`)).status).toBe(200);
  });

  it("passes its HEALTHCHECK (node /app/dist/main.js probe)", async () => {
    const check = await podman(["healthcheck", "run", NAME]);
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
    const { State } = await inspectContainer();
    expect(State.Health?.Status ?? State.Healthcheck?.Status).toBe("healthy");
  });

  it("stops on podman stop: SIGTERM reaches Node, which drains and exits 0 well before the SIGKILL", async () => {
    const stop = await mustPodman(["stop", "--time", String(STOP_TIMEOUT_S), NAME], 30_000);
    expect(stop.ms).toBeLessThan(STOP_TIMEOUT_S * 1000);
    const { State } = await inspectContainer();
    expect(State.Running).toBe(false);
    expect(State.ExitCode).toBe(0);

    const logs = await mustPodman(["logs", NAME]);
    // The service's stderr is for start-up failures only; its log is JSON lines on stdout.
    expect(logs.stderr).toBe("");
    const lines = logs.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const messages = lines.map((l) => l.msg);
    expect(lines.find((l) => l.msg === "stopping: draining calls in flight")).toMatchObject({
      signal: "SIGTERM",
    });
    expect(messages.at(-1)).toBe("stopped");
    // Nothing tried to write to the read-only root filesystem.
    expect(logs.stdout).not.toMatch(/EROFS|read-only file system/i);
  });
});
