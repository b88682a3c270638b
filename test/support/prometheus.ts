/**
 * A real Prometheus 2.42 (Debian's `prometheus`, `promtool`) backfilled with the sample fleet, plus
 * a real node exporter it scrapes. Plain processes on 127.0.0.1 (or ::1); no test framework here, so
 * a long-running demo process can use it as well as the tests.
 *
 * Traps this handles (see shared/reference/real-components.md §1.4):
 * - data runs from the past into the FUTURE, so queries at "now" (Watcher sends no `time=`) see a
 *   full window and rate() does not extrapolate past the last sample;
 * - future blocks raise the head's minimum valid time and every scrape would fail "out of bounds",
 *   so the config sets `storage.tsdb.out_of_order_time_window` beyond the future horizon;
 * - `/api/v1/targets?state=active` is empty for ~5 s after start (scrape manager throttle), and
 *   Watcher resolves hosts from it, so start-up waits until every fleet host is listed.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, fetch as undiciFetch } from "undici";
import { type Fleet, type FleetBackendOptions, fleetBackendPlan, type SampleWindow } from "./fleet.js";
import { renderOpenMetrics } from "./fleet-openmetrics.js";
import { type RunningNodeExporter, startNodeExporter } from "./node-exporter.js";
import {
  httpOk,
  type RunningProcess,
  spawnLogged,
  waitUntil,
  waitUntilOrStop,
  withPortRetry,
} from "./processes.js";
import { prometheusConfig } from "./prometheus-config.js";

const execFileAsync = promisify(execFile);

/** Options of {@link startPrometheus}. */
export interface StartPrometheusOptions extends FleetBackendOptions {
  /** A unique work directory (config, data, logs) is created under it, e.g. `/work/main/.run`. */
  readonly baseDir: string;
  /**
   * Serve everything under `/<routePrefix>` (via `--web.external-url`), like a Prometheus reached
   * through a catalog URL with a path. Leading/trailing slashes are ignored; empty means none.
   */
  readonly routePrefix?: string;
  /** Address Prometheus listens on, default `127.0.0.1`; `::1` serves the IPv6 loopback only. */
  readonly listenHost?: "127.0.0.1" | "::1";
  /** Extra `prometheus` flags, e.g. `--web.enable-remote-write-receiver`. */
  readonly extraArgs?: readonly string[];
  /**
   * What the start-up probes need when `extraArgs` pass a `--web.config.file` with TLS or basic
   * auth. With `ca` the probes, `--web.external-url` and the returned `url` use https.
   */
  readonly probeAccess?: PrometheusProbeAccess;
  /** Keep the OpenMetrics file and the TSDB after stop(), default false (logs are always kept). */
  readonly keepData?: boolean;
  /** Budget for the whole start-up, default 60 000 ms. */
  readonly timeoutMs?: number;
}

/** How the start-up probes reach a Prometheus started with a `--web.config.file`. */
export interface PrometheusProbeAccess {
  /** CA (PEM) of the server certificate (tls_server_config): probe over https. */
  readonly ca?: Buffer;
  /** Client certificate and key (PEM), for client_auth_type RequireAndVerifyClientCert. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Authorization header value, e.g. `Basic …` for basic_auth_users. */
  readonly authorization?: string;
}

/** A running, backfilled Prometheus. */
export interface RunningPrometheus {
  /** Base URL including the route prefix, no trailing slash: `${url}/api/v1/query`. */
  readonly url: string;
  readonly port: number;
  /** `""` or the normalised prefix with a leading slash, e.g. `/prometheus`. */
  readonly routePrefix: string;
  /** The fleet's time origin (seconds); data spans `window`. */
  readonly startSec: number;
  readonly window: SampleWindow;
  readonly fleet: Fleet;
  /** Host label value of the scraped real node exporter, if one was started. */
  readonly nodeExporterFqdn: string | undefined;
  readonly nodeExporter: RunningNodeExporter | undefined;
  /** Holds prometheus.yml, fleet.om, tsdb/ and the logs. */
  readonly workDir: string;
  readonly process: RunningProcess;
  /** Stops Prometheus and the node exporter; removes the data unless `keepData`. */
  stop(): Promise<void>;
}

/**
 * Backfills the fleet into a fresh TSDB with promtool, starts Prometheus on it and waits until it
 * is ready and `/api/v1/targets?state=active` lists every fleet host (and the node exporter).
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  const { fleet, startSec, window, nodeExporterFqdn } = fleetBackendPlan(options);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const remaining = () => Math.max(1_000, deadline - Date.now());
  const prefix = normalisePrefix(options.routePrefix ?? "");
  const scheme = options.probeAccess?.ca ? "https" : "http";
  const listenHost = options.listenHost ?? "127.0.0.1";
  const hostPort = (port: number) =>
    listenHost.includes(":") ? `[${listenHost}]:${port}` : `${listenHost}:${port}`;
  const probe = prober(options.probeAccess);

  await mkdir(options.baseDir, { recursive: true });
  const workDir = await mkdtemp(join(options.baseDir, "prometheus-"));
  const omFile = join(workDir, "fleet.om");
  const tsdbDir = join(workDir, "tsdb");
  const configFile = join(workDir, "prometheus.yml");

  const started: { stop(): Promise<void> }[] = [];
  const stopStarted = async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
  };
  try {
    await writeFile(omFile, renderOpenMetrics(fleet, window));
    await promtool(["tsdb", "create-blocks-from", "openmetrics", omFile, tsdbDir], workDir);

    let nodeExporter: RunningNodeExporter | undefined;
    if (nodeExporterFqdn !== undefined) {
      nodeExporter = await startNodeExporter({ logDir: workDir, timeoutMs: remaining() });
      started.push(nodeExporter);
    }
    // An OOO window shorter than the future horizon would make every scrape fail "out of bounds".
    const oooHours = Math.max(3, Math.ceil((window.endSec - startSec) / 3600) + 2);
    await writeFile(
      configFile,
      prometheusConfig(fleet, {
        oooHours,
        nodeExporter:
          nodeExporter && nodeExporterFqdn !== undefined
            ? { address: nodeExporter.address, fqdn: nodeExporterFqdn }
            : undefined,
      }),
    );

    const { proc, port } = await withPortRetry(async (port) => {
      const args = [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${tsdbDir}`,
        "--storage.tsdb.retention.time=30d",
        `--web.listen-address=${hostPort(port)}`,
        ...(prefix ? [`--web.external-url=${scheme}://${hostPort(port)}${prefix}`] : []),
        ...(options.extraArgs ?? []),
      ];
      const proc = await spawnLogged({
        name: "prometheus",
        command: "prometheus",
        args,
        logDir: workDir,
        cwd: workDir,
      });
      await waitUntilOrStop(
        "prometheus /-/ready",
        () => probe.ok(`${scheme}://${hostPort(port)}${prefix}/-/ready`),
        {
          timeoutMs: remaining(),
          process: proc,
          intervalMs: 50,
        },
      );
      return { proc, port };
    }, listenHost);
    started.push(proc);
    const url = `${scheme}://${hostPort(port)}${prefix}`;

    const wanted = [...fleet.hosts.map((h) => h.fqdn), ...(nodeExporterFqdn ? [nodeExporterFqdn] : [])];
    await waitUntil(
      "every fleet host in /api/v1/targets?state=active",
      async () => {
        const listed = await activeTargetHosts(url, fleet.hostLabel, probe.get);
        return wanted.every((h) => listed.has(h));
      },
      { timeoutMs: remaining(), process: proc, intervalMs: 200 },
    );

    return {
      url,
      port,
      routePrefix: prefix,
      startSec,
      window,
      fleet,
      nodeExporterFqdn,
      nodeExporter,
      workDir,
      process: proc,
      async stop() {
        await stopStarted();
        if (!options.keepData) {
          await rm(tsdbDir, { recursive: true, force: true });
          await rm(omFile, { force: true });
        }
      },
    };
  } catch (err) {
    await stopStarted();
    throw err;
  } finally {
    await probe.close();
  }
}

type ProbeGet = (
  url: string,
) => Promise<{ ok: boolean; json(): Promise<unknown>; arrayBuffer(): Promise<unknown> }>;

const plainGet: ProbeGet = (url) => fetch(url, { signal: AbortSignal.timeout(2_000) });

/** GETs with the CA, client certificate and Authorization of `access`; plain fetch without it. */
function prober(access: PrometheusProbeAccess | undefined): {
  get: ProbeGet;
  ok(url: string): Promise<boolean>;
  close(): Promise<void>;
} {
  if (!access) return { get: plainGet, ok: httpOk, close: async () => {} };
  const agent = new Agent({ connect: { ca: access.ca, cert: access.cert, key: access.key } });
  const headers: Record<string, string> = access.authorization ? { authorization: access.authorization } : {};
  const get: ProbeGet = (url) =>
    undiciFetch(url, { headers, dispatcher: agent, signal: AbortSignal.timeout(2_000) });
  return {
    get,
    async ok(url) {
      const res = await get(url);
      await res.arrayBuffer();
      return res.ok;
    },
    close: () => agent.close(),
  };
}

/** The host label values of the active targets, as Watcher builds its host map from them. */
export async function activeTargetHosts(
  url: string,
  hostLabel: string,
  get: ProbeGet = plainGet,
): Promise<Set<string>> {
  const res = await get(`${url}/api/v1/targets?state=active`);
  if (!res.ok) {
    await res.arrayBuffer();
    return new Set();
  }
  const body = (await res.json()) as { data?: { activeTargets?: { labels?: Record<string, string> }[] } };
  const hosts = new Set<string>();
  for (const t of body.data?.activeTargets ?? []) {
    const v = t.labels?.[hostLabel];
    if (v) hosts.add(v);
  }
  return hosts;
}

function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  return trimmed ? `/${trimmed}` : "";
}

async function promtool(args: readonly string[], logDir: string): Promise<void> {
  try {
    const { stdout, stderr } = await execFileAsync("promtool", [...args], { maxBuffer: 16 * 1024 * 1024 });
    await writeFile(join(logDir, "promtool.log"), `${stdout}${stderr}`);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    await writeFile(join(logDir, "promtool.log"), `${e.stdout ?? ""}${e.stderr ?? ""}`);
    throw new Error(`promtool ${args.join(" ")} failed: ${e.message}`);
  }
}
