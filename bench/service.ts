/**
 * metrics-access as a separate, production-like process (`node dist/main.js`, built by `npm run
 * bench` first), configured only through METRICS_ACCESS__<SECTION>__<OPTION>, plus what the
 * benchmark reads about it from /proc: CPU time (utime + stime) and peak RSS (VmHWM).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MetricsService } from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { asEnvironment } from "../test/support/environment.js";
import {
  type RunningProcess,
  spawnLogged,
  waitUntil,
  waitUntilOrStop,
  withPortRetry,
} from "../test/support/processes.js";

/** Options as `section.option` → value, e.g. { "prometheus_client.host": "127.0.0.1" }. */
export type ServiceOptions = Readonly<Record<string, string>>;

export interface BenchService {
  readonly port: number;
  readonly pid: number;
  readonly target: string;
  readonly baseUrl: string;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  stop(): Promise<void>;
}

// /proc/<pid>/stat counts CPU time in clock ticks; the tick rate is the kernel's, not always 100.
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; fields are counted from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

export function peakRssBytesOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kib * 1024;
}

/** Starts `node dist/main.js` on a free port and waits until it answers ListHosts. */
export async function startService(
  name: string,
  logDir: string,
  options: ServiceOptions,
  nodeArgs: readonly string[] = [],
): Promise<BenchService> {
  const { proc, port } = await withPortRetry(async (port) => {
    const proc = await spawnLogged({
      name,
      command: process.execPath,
      args: [...nodeArgs, "dist/main.js"],
      logDir,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        NODE_ENV: "production",
        ...asEnvironment({
          "metrics_access.listen": `127.0.0.1:${port}`,
          "metrics_access.admin_listen": "127.0.0.1:0",
          ...options,
        }),
      },
    });
    await waitForAnswer(proc, `http://127.0.0.1:${port}`);
    return { proc, port };
  });
  const pid = proc.child.pid;
  if (pid === undefined) throw new Error(`${name} has no pid`);
  return {
    port,
    pid,
    target: `127.0.0.1:${port}`,
    baseUrl: `http://127.0.0.1:${port}`,
    cpuSeconds: () => cpuSecondsOf(pid),
    peakRssBytes: () => peakRssBytesOf(pid),
    stop: () => proc.stop(),
  };
}

async function waitForAnswer(proc: RunningProcess, baseUrl: string): Promise<void> {
  const client = createClient(MetricsService, createGrpcTransport({ baseUrl }));
  await waitUntil(
    `${proc.name} to answer ListHosts`,
    async () => {
      await client.listHosts({});
      return true;
    },
    { timeoutMs: 60_000, process: proc, intervalMs: 100 },
  );
}

/** The fixed-answer gRPC server (bench/floor-server.ts) on a free port, once it listens. */
export async function startFloorServer(
  logDir: string,
  forward?: { readonly prometheusUrl: string; readonly promql: string },
): Promise<{ target: string; stop(): Promise<void> }> {
  return await withPortRetry(async (port) => {
    const proc = await spawnLogged({
      name: forward ? "grpc-forwarding-floor" : "grpc-floor",
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        "bench/floor-server.ts",
        String(port),
        ...(forward ? [forward.prometheusUrl, forward.promql] : []),
      ],
      logDir,
    });
    await waitUntilOrStop(
      "the fixed-answer gRPC server",
      async () => (await readFile(proc.logFile, "utf8")).includes("listening"),
      {
        timeoutMs: 30_000,
        process: proc,
      },
    );
    return { target: `127.0.0.1:${port}`, stop: () => proc.stop() };
  });
}
