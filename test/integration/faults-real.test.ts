/**
 * Faults with real processes: the service runs as its own process (`node src/main.ts`), the
 * upstream is a real Prometheus wherever a real one can show the fault.
 *  1. Prometheus (this file's own) killed and restarted under load: calls fail fast with
 *     UNAVAILABLE while it is down and succeed again once it is back, the service never restarted;
 *     and restarted while the service sat idle with its keep-alive pool full: the first calls answer.
 *  2. Prometheus slowed by a delaying TCP proxy: the service answers DEADLINE_EXCEEDED itself, on
 *     time (a bare HTTP/2 client that enforces no deadline of its own).
 *  3. Answers a real Prometheus cannot send (a fake): truncated JSON, a body cut off mid-stream,
 *     elements of the wrong shape, an answer over the 64 MiB cap → UNAVAILABLE with the reason,
 *     and the service serves on. (faults.test.ts already covers a success envelope whose result is
 *     not a vector, and error statuses.)
 *  4. SIGTERM with 32 calls in flight (slowed by the proxy): every one completes, new connections
 *     are refused, open ones get GOAWAY, exit 0.
 *  5. A thousand idle connections to the gRPC port (silent, a partial preface, the bare HTTP/2
 *     preface without SETTINGS) while calls go on at their usual latency; all of them are dropped
 *     after the documented 10 s.
 * The shared stack's Prometheus is only ever read from (through the proxy at worst).
 */
import { once } from "node:events";
import { readdir, readFile, rm } from "node:fs/promises";
import type { ClientHttp2Session } from "node:http2";
import { type Socket, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GetHostMetricRequestSchema, MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type DelayProxy, startDelayProxy } from "../support/delay-proxy.js";
import { type FaultyPrometheus, startFaultyPrometheus, vectorBody } from "../support/faulty-prometheus.js";
import { type ServiceProcess, spawnService } from "../support/interop-process.js";
import { httpOk, type RunningProcess, spawnLogged, waitUntil } from "../support/processes.js";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus.js";
import { rawSession, rawUnary } from "../support/raw-grpc.js";

const stack = inject("stack");
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BASE_DIR = join(ROOT, ".run", "faults-real");
const GET_HOST_METRIC = "/metricsaccess.v1.MetricsService/GetHostMetric";
const HOSTS = ["compute-1.example", "compute-2.example", "compute-3.example"] as const;
const METRICS = ["host_cpu_usage", "host_ram_usage"] as const;
const GRPC_DEADLINE_EXCEEDED = 4;

type MetricsClient = Client<typeof MetricsService>;

interface Service {
  readonly proc: ServiceProcess;
  readonly port: number;
  /** A client on its own HTTP/2 connection. */
  client(): MetricsClient;
}

const processes: ServiceProcess[] = [];

async function serve(prometheusHost: string, prometheusPort: number): Promise<Service> {
  const proc = spawnService([], {
    METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.1:0",
    METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: prometheusHost,
    METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(prometheusPort),
  });
  processes.push(proc);
  const port = await proc.serving(30_000);
  return {
    proc,
    port,
    client: () => createClient(MetricsService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` })),
  };
}

/** Whether the process is still running (neither exited nor killed). */
function running(proc: ServiceProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** One call's outcome, with performance.now() times. */
interface Outcome {
  readonly start: number;
  readonly end: number;
  /** "OK" or the gRPC code's name. */
  readonly code: string;
  readonly reason: string | null;
  readonly message: string;
}

async function timedCall(client: MetricsClient, i: number, timeoutMs: number): Promise<Outcome> {
  const start = performance.now();
  try {
    const res = await client.getHostMetric(
      {
        host: HOSTS[i % HOSTS.length] ?? HOSTS[0],
        metric: METRICS[Math.floor(i / HOSTS.length) % METRICS.length] ?? METRICS[0],
      },
      { timeoutMs },
    );
    if (typeof res.result?.value !== "number") throw new Error("an answer without a value");
    return { start, end: performance.now(), code: "OK", reason: null, message: "" };
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    return {
      start,
      end: performance.now(),
      code: Code[err.code],
      reason: err.metadata.get("x-error-reason"),
      message: err.rawMessage,
    };
  }
}

/**
 * `callers` loops of calls (deadline `timeoutMs`), `pauseMs` apart, spread over `clients`, until
 * `done()`; `seen` receives each outcome as it comes.
 */
async function load(options: {
  readonly clients: readonly MetricsClient[];
  readonly callers: number;
  readonly timeoutMs: number;
  readonly pauseMs: number;
  readonly done: () => boolean;
  readonly seen: Outcome[];
}): Promise<void> {
  await Promise.all(
    Array.from({ length: options.callers }, async (_, caller) => {
      const client = options.clients[caller % options.clients.length];
      if (client === undefined) throw new Error("no client");
      for (let i = caller; !options.done(); i += options.callers) {
        options.seen.push(await timedCall(client, i, options.timeoutMs));
        await sleep(options.pauseMs);
      }
    }),
  );
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await rm(BASE_DIR, { recursive: true, force: true });
});

describe("Prometheus killed and restarted under load", () => {
  let prometheus: RunningPrometheus;
  /** The Prometheus process running now: the first one, then each restart. */
  let current: RunningProcess;
  const restarts: RunningProcess[] = [];
  let service: Service;

  beforeAll(async () => {
    prometheus = await startPrometheus({ baseDir: BASE_DIR, nodeExporter: false });
    current = prometheus.process;
    service = await serve("127.0.0.1", prometheus.port);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(restarts.map((p) => p.stop()));
    await prometheus?.stop();
  });

  /** SIGKILL: no goodbye; the kernel closes its sockets, the service's kept-alive ones included. */
  async function kill(): Promise<void> {
    const { child } = current;
    child.kill("SIGKILL");
    if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  }

  /** The same binary, flags, port and TSDB again; resolves once it is ready. */
  async function restart(): Promise<void> {
    current = await spawnLogged({
      name: `prometheus-restart-${restarts.length + 1}`,
      command: "prometheus",
      args: current.child.spawnargs.slice(1),
      logDir: prometheus.workDir,
      cwd: prometheus.workDir,
    });
    restarts.push(current);
    await waitUntil("restarted prometheus /-/ready", () => httpOk(`${prometheus.url}/-/ready`), {
      timeoutMs: 30_000,
      process: current,
      intervalMs: 50,
    });
  }

  it("fails fast with UNAVAILABLE while it is down, and recovers without a service restart", async () => {
    const clients = Array.from({ length: 4 }, () => service.client());
    const seen: Outcome[] = [];
    let done = false;
    const t = { killed: 0, exited: 0, respawned: 0, ready: 0 };
    const running16 = load({ clients, callers: 16, timeoutMs: 5_000, pauseMs: 10, done: () => done, seen });
    try {
      await sleep(1_000);
      t.killed = performance.now();
      await kill();
      t.exited = performance.now();
      await sleep(1_500);
      t.respawned = performance.now();
      await restart();
      t.ready = performance.now();
      await waitUntil(
        "a call that succeeds after the restart",
        async () => {
          return seen.some((o) => o.code === "OK" && o.start > t.ready);
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      await sleep(1_500);
    } finally {
      done = true;
      await running16;
    }

    const codes = new Set(seen.map((o) => o.code));
    const before = seen.filter((o) => o.end < t.killed);
    const down = seen.filter((o) => o.start > t.exited && o.end < t.respawned);
    const firstBack = Math.min(...seen.filter((o) => o.code === "OK" && o.start > t.ready).map((o) => o.end));
    const after = seen.filter((o) => o.start > firstBack);
    const downMs = down.map((o) => o.end - o.start);
    console.log(
      `kill/restart: ${seen.length} calls; before ${before.length}, while down ${down.length} ` +
        `(p50 ${round(percentile(downMs, 50))} ms, max ${round(Math.max(...downMs))} ms), ` +
        `restart to ready ${Math.round(t.ready - t.respawned)} ms, ready to first answer ` +
        `${Math.round(firstBack - t.ready)} ms, after ${after.length}; codes ${[...codes].join(", ")}`,
    );

    // Nothing but answers and UNAVAILABLE: no INTERNAL, no deadline reached, no crash.
    expect([...codes].sort()).toEqual(["OK", "Unavailable"]);
    expect(before.length).toBeGreaterThan(16);
    expect(before.every((o) => o.code === "OK")).toBe(true);
    // While it is down, every call fails, and fast: well within its 5 s deadline.
    expect(down.length).toBeGreaterThan(32);
    for (const o of down) {
      expect(o.code, o.message).toBe("Unavailable");
      expect(o.reason).toBe("UPSTREAM_UNREACHABLE");
      expect(o.message).toContain("Prometheus could not be reached");
      expect(o.end - o.start).toBeLessThan(1_000);
    }
    // Back: the first answer within 2 s of Prometheus being ready, and from then on every call.
    expect(firstBack - t.ready).toBeLessThan(2_000);
    expect(after.length).toBeGreaterThan(32);
    expect(after.filter((o) => o.code !== "OK")).toEqual([]);
    expect(running(service.proc)).toBe(true);
  });

  it("answers the first calls after a restart while the service was idle, its pool full", async () => {
    const client = service.client();
    // 16 at once: as many kept-alive connections, idle when Prometheus goes.
    const warm = await Promise.all(Array.from({ length: 16 }, (_, i) => timedCall(client, i, 5_000)));
    expect(warm.filter((o) => o.code !== "OK")).toEqual([]);
    await sleep(200);
    await kill();
    await restart();
    const first = await Promise.all(Array.from({ length: 16 }, (_, i) => timedCall(client, i, 5_000)));
    expect(first.filter((o) => o.code !== "OK")).toEqual([]);
    expect(running(service.proc)).toBe(true);
  });
});

describe("Prometheus slowed by a delaying proxy", () => {
  let proxy: DelayProxy;
  let service: Service;
  let session: ClientHttp2Session;
  const request = (host: string) =>
    toBinary(
      GetHostMetricRequestSchema,
      create(GetHostMetricRequestSchema, { host, metric: "host_cpu_usage" }),
    );

  beforeAll(async () => {
    proxy = await startDelayProxy({
      targetHost: stack.prometheus.host,
      targetPort: stack.prometheus.port,
      delayMs: 0,
    });
    service = await serve(proxy.host, proxy.port);
    session = rawSession(service.port);
  }, 60_000);
  afterAll(async () => {
    session?.close();
    await proxy?.close();
  });

  it("answers through the proxy, later by the delay", async () => {
    const client = service.client();
    expect((await timedCall(client, 0, 10_000)).code).toBe("OK");
    proxy.setDelay(150);
    const slowed = await timedCall(client, 0, 10_000);
    expect(slowed.code, slowed.message).toBe("OK");
    // The query and its answer are each held 150 ms.
    expect(slowed.end - slowed.start).toBeGreaterThanOrEqual(290);
  });

  it("answers DEADLINE_EXCEEDED itself, within the deadline plus 100 ms", async () => {
    proxy.setDelay(3_000);
    const timings: string[] = [];
    const deadlines = [300, 1_000] as const;
    for (const [i, deadlineMs] of deadlines.entries()) {
      const outcome = await rawUnary(session, GET_HOST_METRIC, request("compute-2.example"), {
        timeoutMs: deadlineMs,
        headers: { "x-request-id": `faults-real-deadline-${i}` },
      });
      timings.push(`${deadlineMs} ms → ${round(outcome.elapsedMs)} ms at the caller`);
      expect(outcome.status, outcome.message).toBe(GRPC_DEADLINE_EXCEEDED);
      expect(outcome.elapsedMs).toBeGreaterThanOrEqual(deadlineMs - 5);
      // At the caller, with the machine's scheduling in between (2 shared cores).
      expect(outcome.elapsedMs).toBeLessThan(deadlineMs + 250);
    }
    // The service's own account (the access log, flushed within a second): the deadline plus 100 ms.
    const logged = () =>
      service.proc
        .logLines()
        .filter((l) => typeof l.requestId === "string" && l.requestId.startsWith("faults-real-deadline-"));
    await waitUntil("the calls' log lines", async () => logged().length === deadlines.length, {
      timeoutMs: 3_000,
      intervalMs: 50,
    });
    for (const [i, deadlineMs] of deadlines.entries()) {
      const line = logged().find((l) => l.requestId === `faults-real-deadline-${i}`);
      expect(line?.code).toBe("deadline_exceeded");
      timings.push(`${deadlineMs} ms → ${String(line?.durationMs)} ms in the service`);
      expect(Number(line?.durationMs)).toBeGreaterThanOrEqual(deadlineMs - 5);
      expect(Number(line?.durationMs)).toBeLessThan(deadlineMs + 100);
    }
    console.log(`deadline exceeded: ${timings.join(", ")}`);
    // And it serves on once the upstream is quick again.
    proxy.setDelay(0);
    const back = await rawUnary(session, GET_HOST_METRIC, request("compute-3.example"), { timeoutMs: 5_000 });
    expect(back.status, back.message).toBe(0);
    expect(running(service.proc)).toBe(true);
  });
});

describe("Answers a real Prometheus cannot send", () => {
  const VALID = (host: string) => vectorBody(host, "12.5");
  let fake: FaultyPrometheus;
  let service: Service;
  let client: MetricsClient;
  /** Bytes the fake wrote of the oversized answer before the service hung up. */
  let oversizedWritten = 0;

  beforeAll(async () => {
    fake = await startFaultyPrometheus({
      hosts: HOSTS,
      series: ["node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"],
      query: (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(VALID(HOSTS[0]));
      },
    });
    service = await serve(fake.host, fake.port);
    client = service.client();
  }, 60_000);
  afterAll(async () => {
    await fake?.stop();
  });

  const valid = () =>
    fake.setQuery((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(VALID(HOSTS[0]));
    });

  /** A body of `text` sent in two halves with the connection destroyed in between. */
  const cutOff = (text: string, contentLength: boolean) =>
    fake.setQuery((_req, res) => {
      res.writeHead(200, {
        "content-type": "application/json",
        ...(contentLength ? { "content-length": String(Buffer.byteLength(text)) } : {}),
      });
      res.write(text.slice(0, text.length / 2));
      setTimeout(() => res.socket?.destroy(), 20);
    });

  const cases: readonly {
    readonly name: string;
    readonly arrange: () => void;
    readonly reason: string;
    readonly says: string;
  }[] = [
    {
      name: "truncated JSON with a matching content-length",
      arrange: () =>
        fake.setQuery((_req, res) => {
          const text = VALID(HOSTS[0]);
          const cut = text.slice(0, Math.floor(text.length / 2));
          res.writeHead(200, { "content-type": "application/json", "content-length": String(cut.length) });
          res.end(cut);
        }),
      reason: "UPSTREAM_MALFORMED",
      says: "without a success envelope",
    },
    {
      name: "an HTML page with status 200",
      arrange: () =>
        fake.setQuery((_req, res) => {
          res.writeHead(200, { "content-type": "text/html" });
          res.end("<html><body>proxy login</body></html>");
        }),
      reason: "UPSTREAM_MALFORMED",
      says: "without a success envelope",
    },
    {
      name: "a body cut off mid-stream (content-length announced)",
      arrange: () => cutOff(VALID(HOSTS[0]), true),
      reason: "UPSTREAM_UNREACHABLE",
      says: "Prometheus could not be reached",
    },
    {
      name: "a chunked body cut off mid-stream",
      arrange: () => cutOff(VALID(HOSTS[0]), false),
      reason: "UPSTREAM_UNREACHABLE",
      says: "Prometheus could not be reached",
    },
    {
      name: "a vector element without a [time, value] pair",
      arrange: () =>
        fake.setQuery((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              status: "success",
              data: { resultType: "vector", result: [{ metric: { fqdn: HOSTS[0] }, value: 12.5 }] },
            }),
          );
        }),
      reason: "UPSTREAM_MALFORMED",
      says: "cannot read",
    },
    {
      name: "a success envelope without data",
      arrange: () =>
        fake.setQuery((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ status: "success" }));
        }),
      reason: "UPSTREAM_MALFORMED",
      says: "cannot read",
    },
    {
      name: "an answer larger than 64 MiB",
      arrange: () =>
        fake.setQuery((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" });
          const chunk = Buffer.alloc(1024 * 1024, 0x20);
          const limit = 96 * 1024 * 1024;
          oversizedWritten = 0;
          res.write('{"status":"success","data":{"resultType":"vector","result":[');
          const more = () => {
            while (!res.destroyed && oversizedWritten < limit) {
              oversizedWritten += chunk.length;
              if (!res.write(chunk)) {
                res.once("drain", more);
                return;
              }
            }
            if (!res.destroyed) res.end("]}}");
          };
          more();
        }),
      reason: "UPSTREAM_UNREACHABLE",
      says: "larger than this service reads",
    },
  ];

  it("answers each with UNAVAILABLE and its reason, and answers normally right after", async () => {
    expect((await timedCall(client, 0, 10_000)).code).toBe("OK");
    for (const c of cases) {
      c.arrange();
      const failed = await timedCall(client, 0, 20_000);
      expect(failed.code, `${c.name}: ${failed.message}`).toBe("Unavailable");
      expect(failed.reason, c.name).toBe(c.reason);
      expect(failed.message, c.name).toContain(c.says);
      expect(failed.message, c.name).not.toContain("127.0.0.1");
      valid();
      const ok = await timedCall(client, 0, 10_000);
      expect(ok.code, `after ${c.name}: ${ok.message}`).toBe("OK");
    }
    // The service stopped reading past the cap rather than taking the whole 96 MiB.
    expect(oversizedWritten).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(oversizedWritten).toBeLessThan(96 * 1024 * 1024);
    const status = await readFile(`/proc/${service.proc.child.pid}/status`, "utf8");
    console.log(`after the oversized answer: ${status.match(/VmRSS:\s*(\d+ kB)/)?.[1]} resident`);
    expect(running(service.proc)).toBe(true);
    expect(service.proc.stderr()).toBe("");
  });
});

describe("SIGTERM with 32 calls in flight", () => {
  let proxy: DelayProxy;
  let service: Service;

  beforeAll(async () => {
    proxy = await startDelayProxy({
      targetHost: stack.prometheus.host,
      targetPort: stack.prometheus.port,
      delayMs: 0,
    });
    service = await serve(proxy.host, proxy.port);
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
  });

  it("completes every call in flight, refuses new ones, and exits 0", async () => {
    const clients = Array.from({ length: 4 }, () => service.client());
    // Warm: the host directory is loaded and every connection is open.
    for (const [i, client] of clients.entries()) expect((await timedCall(client, i, 10_000)).code).toBe("OK");
    const session = rawSession(service.port);
    await new Promise<void>((resolve) => session.once("connect", () => resolve()));
    let goawayAt: number | undefined;
    session.once("goaway", () => {
      goawayAt = performance.now();
    });

    proxy.setDelay(600);
    const started = performance.now();
    const settled: Outcome[] = [];
    const inFlight = Array.from({ length: 32 }, (_, i) => {
      const client = clients[i % clients.length];
      if (client === undefined) throw new Error("no client");
      return timedCall(client, i, 20_000).then((o) => {
        settled.push(o);
        return o;
      });
    });
    await sleep(300);
    expect(settled).toEqual([]);
    const termAt = performance.now();
    service.proc.child.kill("SIGTERM");
    // An open connection is told to go away; draining closes the listener in the same step.
    await waitUntil("GOAWAY on the open connection", async () => goawayAt !== undefined, {
      timeoutMs: 2_000,
      intervalMs: 10,
    });
    expect((goawayAt ?? Number.POSITIVE_INFINITY) - termAt).toBeLessThan(1_000);
    session.destroy();

    // A new connection is refused.
    const refused = await new Promise<string>((resolve) => {
      const socket = tcpConnect(service.port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe("ECONNREFUSED");
    const fresh = await timedCall(service.client(), 0, 2_000);
    expect(fresh.code, fresh.message).toBe("Unavailable");

    const outcomes = await Promise.all(inFlight);
    const elapsed = outcomes.map((o) => o.end - started);
    console.log(
      `SIGTERM under load: 32 calls in flight ended ${Math.round(Math.min(...elapsed))}–` +
        `${Math.round(Math.max(...elapsed))} ms after they started (SIGTERM at ${Math.round(termAt - started)} ms)`,
    );
    for (const o of outcomes) {
      expect(o.code, o.message).toBe("OK");
      expect(o.end).toBeGreaterThan(termAt);
    }
    const exit = await service.proc.exited;
    expect(exit, service.proc.stderr()).toEqual({ code: 0, signal: null });
    const lines = service.proc.logLines();
    const messages = lines.map((l) => l.msg);
    expect(messages).toContain("stopping: draining calls in flight");
    expect(messages).not.toContain("grace period over: cancelling calls in flight");
    const okCalls = lines.filter(
      (l) => l.msg === "call" && l.code === "ok" && l.rpc === "metricsaccess.v1.MetricsService/GetHostMetric",
    );
    expect(okCalls.length).toBe(4 + 32);
    expect(messages.lastIndexOf("stopped")).toBeGreaterThan(lines.lastIndexOf(okCalls.at(-1) ?? {}));
  });
});

describe("A thousand idle connections to the gRPC port", () => {
  const SILENT = 500;
  const PARTIAL = 250;
  const PREFACE = 250;
  /** The documented limit for a client that connects and says nothing (transport.ts). */
  const SNIFF_TIMEOUT_MS = 10_000;
  let service: Service;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    service = await serve(stack.prometheus.host, stack.prometheus.port);
  }, 60_000);
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
  });

  async function openFds(pid: number): Promise<number> {
    return (await readdir(`/proc/${pid}/fd`)).length;
  }

  async function fdLimit(pid: number | "self"): Promise<number> {
    const limits = await readFile(`/proc/${pid}/limits`, "utf8");
    const soft = limits.match(/^Max open files\s+(\d+|unlimited)/m)?.[1];
    return soft === undefined || soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
  }

  it("keeps serving at its usual latency, and drops every idle kind after 10 s", async () => {
    const pid = service.proc.child.pid;
    if (pid === undefined) throw new Error("no pid");
    const total = SILENT + PARTIAL + PREFACE;
    const [serviceLimit, ownLimit, fdsBefore] = await Promise.all([
      fdLimit(pid),
      fdLimit("self"),
      openFds(pid),
    ]);
    // Both ends hold one descriptor per connection; stay well within either limit.
    expect(serviceLimit - fdsBefore).toBeGreaterThan(total + 100);
    expect(ownLimit - (await openFds(process.pid))).toBeGreaterThan(total + 100);

    const client = service.client();
    const sequential = async (n: number) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const o = await timedCall(client, i, 5_000);
        expect(o.code, o.message).toBe("OK");
        times.push(o.end - o.start);
      }
      return times;
    };
    await sequential(20); // warm
    const baseline = await sequential(100);

    // Open them in batches of 100: the listen backlog is finite.
    const closedAt = new Map<Socket, number>();
    const requestedAt = new Map<Socket, number>();
    const openedAt = new Map<Socket, number>();
    const kinds = new Map<Socket, "silent" | "partial" | "preface">();
    for (let i = 0; i < total; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, total - i) }, async (_, j) => {
          const n = i + j;
          const kind = n < SILENT ? "silent" : n < SILENT + PARTIAL ? "partial" : "preface";
          const requested = performance.now();
          const socket = tcpConnect(service.port, "127.0.0.1");
          requestedAt.set(socket, requested);
          sockets.push(socket);
          kinds.set(socket, kind);
          socket.on("error", () => {});
          socket.on("data", () => {});
          socket.once("close", () => closedAt.set(socket, performance.now()));
          await once(socket, "connect");
          openedAt.set(socket, performance.now());
          if (kind === "partial") socket.write("PRI * HTT");
          else if (kind === "preface") socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        }),
      );
    }
    const allOpen = performance.now();
    await sleep(200);
    const fdsHeld = await openFds(pid);
    expect(closedAt.size).toBe(0);
    expect(fdsHeld - fdsBefore).toBeGreaterThanOrEqual(total);

    // Calls go on: sequential ones for latency, and four concurrent callers, until the drop.
    const held = await sequential(100);
    const concurrent: Outcome[] = [];
    await load({
      clients: [client, service.client()],
      callers: 4,
      timeoutMs: 5_000,
      pauseMs: 20,
      done: () => performance.now() - allOpen > SNIFF_TIMEOUT_MS + 1_500,
      seen: concurrent,
    });
    const fdsAfter = await openFds(pid);

    const closedOf = (kind: string) =>
      [...kinds].filter(([s, k]) => k === kind && closedAt.has(s)).map(([s]) => s);
    const dropped = [...closedOf("silent"), ...closedOf("partial"), ...closedOf("preface")];
    // At least from accept to close (the service's view), at most from connect to close.
    const shortest = Math.min(...dropped.map((s) => (closedAt.get(s) ?? 0) - (requestedAt.get(s) ?? 0)));
    const longest = Math.max(...dropped.map((s) => (closedAt.get(s) ?? 0) - (openedAt.get(s) ?? 0)));
    const concurrentMs = concurrent.map((o) => o.end - o.start);
    console.log(
      `idle connections: fd limit ${serviceLimit}, service fds ${fdsBefore} → ${fdsHeld} → ${fdsAfter}; ` +
        `sequential p50/p99 ${round(percentile(baseline, 50))}/${round(percentile(baseline, 99))} ms before, ` +
        `${round(percentile(held, 50))}/${round(percentile(held, 99))} ms with them open; ` +
        `${concurrent.length} concurrent calls p50/max ${round(percentile(concurrentMs, 50))}/` +
        `${round(Math.max(...concurrentMs))} ms; closed by the service: silent ${closedOf("silent").length}/${SILENT}, ` +
        `partial preface ${closedOf("partial").length}/${PARTIAL}, bare preface ${closedOf("preface").length}/${PREFACE}; ` +
        `they lived ${Math.round(shortest)}–${Math.round(longest)} ms`,
    );

    expect(percentile(held, 50)).toBeLessThan(
      Math.max(3 * percentile(baseline, 50), percentile(baseline, 50) + 10),
    );
    expect(percentile(held, 99)).toBeLessThan(500);
    expect(concurrent.filter((o) => o.code !== "OK")).toEqual([]);
    expect(percentile(concurrentMs, 99)).toBeLessThan(500);
    // Silent, partial-preface and preface-only clients are dropped after the timeout, not before.
    expect(closedOf("silent").length).toBe(SILENT);
    expect(closedOf("partial").length).toBe(PARTIAL);
    expect(closedOf("preface").length).toBe(PREFACE);
    expect(shortest).toBeGreaterThanOrEqual(SNIFF_TIMEOUT_MS - 5);
    expect(longest).toBeLessThan(SNIFF_TIMEOUT_MS + 1_500);
    expect(fdsAfter).toBeLessThan(fdsHeld - SILENT - PARTIAL - PREFACE + 50);
    expect(running(service.proc)).toBe(true);
  });
});
