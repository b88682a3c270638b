/**
 * A real VictoriaMetrics single node (Debian's `victoria-metrics`, 1.79) holding the sample fleet,
 * plus a real node exporter it scrapes with its own scraper. Plain processes on 127.0.0.1; no test
 * framework here. It holds the very samples startPrometheus (prometheus.ts) backfills for the same
 * origin, and lists the very targets Prometheus lists, so that the two backends can be compared
 * number for number (docs/backends.md).
 *
 * How it is loaded, and what it took (checked against 1.79.5):
 * - the fleet goes in through `POST /api/v1/import/prometheus`, as Prometheus text exposition with
 *   millisecond timestamps: the OpenMetrics text promtool reads, without its `# EOF` and with each
 *   timestamp turned from seconds into milliseconds (1.79 guesses seconds from small numbers too;
 *   this does not rely on the guess). Every line must be counted as inserted
 *   (`vm_rows_inserted_total{type="prometheus"}`), NaN samples included — VictoriaMetrics stores
 *   them but never shows them to a query;
 * - `/internal/force_flush` makes the imported rows searchable at once instead of within a second;
 * - the scrape configuration is Prometheus's own (prometheus-config.ts) less what VictoriaMetrics's
 *   scraper refuses under its strict parsing: the `storage` section and `global.evaluation_interval`.
 *   The placeholder targets point at 127.0.0.1:0, are never reached, and are listed as active with
 *   health "down" and their labels, as in Prometheus — which is what host resolution reads;
 * - a scraped sample becomes visible to queries at "now" only after `-search.latencyOffset` (30 s
 *   by default): a query without `time` is evaluated 30 s in the past (its answer still carries the
 *   request's time). The fleet runs an hour into the future, so its numbers do not move; the node
 *   exporter's host has no data for the first 30 to 35 s (see {@link RunningVictoriaMetrics}).
 */
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { parse, stringify } from "yaml";
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
import { activeTargetHosts } from "./prometheus.js";
import { prometheusConfig } from "./prometheus-config.js";

/** The program Debian's `victoria-metrics` package installs. */
export const VICTORIA_METRICS_COMMAND = "victoria-metrics";

/**
 * Options of {@link startVictoriaMetrics}: the fleet options as startPrometheus takes them; give the
 * shared Prometheus's `startSec` as `originSec` to hold exactly its samples.
 */
export interface StartVictoriaMetricsOptions extends FleetBackendOptions {
  /** A unique work directory (scrape config, storage, logs) is created under it, e.g. `.run`. */
  readonly baseDir: string;
  /** Extra `victoria-metrics` flags. */
  readonly extraArgs?: readonly string[];
  /** Keep the storage after stop(), default false (logs are always kept). */
  readonly keepData?: boolean;
  /** Budget for the whole start-up, default 60 000 ms. */
  readonly timeoutMs?: number;
}

/** A running VictoriaMetrics holding the fleet. */
export interface RunningVictoriaMetrics {
  /** `http://127.0.0.1:PORT`, no trailing slash: `${url}/api/v1/query`. */
  readonly url: string;
  readonly host: "127.0.0.1";
  readonly port: number;
  /** The fleet's time origin (seconds); data spans `window`. */
  readonly startSec: number;
  readonly window: SampleWindow;
  readonly fleet: Fleet;
  /** Sample lines imported (every one was counted as inserted). */
  readonly importedSamples: number;
  /** Host label value of the scraped real node exporter, if one was started. */
  readonly nodeExporterFqdn: string | undefined;
  readonly nodeExporter: RunningNodeExporter | undefined;
  /**
   * When (epoch ms) the process was started, before it could scrape anything: the node exporter's
   * first samples answer queries at "now" no sooner than 30 s (-search.latencyOffset) after this.
   */
  readonly startedMs: number;
  /** Holds scrape.yml, data/ and the logs. */
  readonly workDir: string;
  readonly process: RunningProcess;
  /** Stops VictoriaMetrics and the node exporter; removes the storage unless `keepData`. */
  stop(): Promise<void>;
}

/**
 * Starts VictoriaMetrics on a free 127.0.0.1 port with its own scraper, imports the fleet, and waits
 * until the import is searchable and `/api/v1/targets?state=active` lists every fleet host (and the
 * node exporter). Fails, never skips, when the program is missing.
 */
export async function startVictoriaMetrics(
  options: StartVictoriaMetricsOptions,
): Promise<RunningVictoriaMetrics> {
  await requireProgram(VICTORIA_METRICS_COMMAND);
  const { fleet, startSec, window, nodeExporterFqdn } = fleetBackendPlan(options);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const remaining = () => Math.max(1_000, deadline - Date.now());

  await mkdir(options.baseDir, { recursive: true });
  const workDir = await mkdtemp(join(options.baseDir, "victoria-metrics-"));
  const dataDir = join(workDir, "data");
  const configFile = join(workDir, "scrape.yml");

  const started: { stop(): Promise<void> }[] = [];
  const stopStarted = async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
  };
  try {
    let nodeExporter: RunningNodeExporter | undefined;
    if (nodeExporterFqdn !== undefined) {
      nodeExporter = await startNodeExporter({ logDir: workDir, timeoutMs: remaining() });
      started.push(nodeExporter);
    }
    await writeFile(
      configFile,
      victoriaMetricsScrapeConfig(
        prometheusConfig(fleet, {
          oooHours: 3,
          nodeExporter:
            nodeExporter && nodeExporterFqdn !== undefined
              ? { address: nodeExporter.address, fqdn: nodeExporterFqdn }
              : undefined,
        }),
      ),
    );

    const { proc, port, startedMs } = await withPortRetry(async (port) => {
      const startedMs = Date.now();
      const proc = await spawnLogged({
        name: "victoria-metrics",
        command: VICTORIA_METRICS_COMMAND,
        args: [
          `-httpListenAddr=127.0.0.1:${port}`,
          `-storageDataPath=${dataDir}`,
          `-promscrape.config=${configFile}`,
          // The placeholder targets fail every scrape by design: one log line each, every 15 s.
          "-promscrape.suppressScrapeErrors",
          ...(options.extraArgs ?? []),
        ],
        logDir: workDir,
        cwd: workDir,
      });
      await waitUntilOrStop("victoria-metrics /-/ready", () => httpOk(`http://127.0.0.1:${port}/-/ready`), {
        timeoutMs: remaining(),
        process: proc,
        intervalMs: 50,
      });
      return { proc, port, startedMs };
    });
    started.push(proc);
    const url = `http://127.0.0.1:${port}`;

    const importedSamples = await importFleet(url, renderOpenMetrics(fleet, window));

    const wanted = [...fleet.hosts.map((h) => h.fqdn), ...(nodeExporterFqdn ? [nodeExporterFqdn] : [])];
    await waitUntil(
      "every fleet host in /api/v1/targets?state=active",
      async () => {
        const listed = await activeTargetHosts(url, fleet.hostLabel);
        return wanted.every((h) => listed.has(h));
      },
      { timeoutMs: remaining(), process: proc, intervalMs: 100 },
    );

    return {
      url,
      host: "127.0.0.1",
      port,
      startSec,
      window,
      fleet,
      importedSamples,
      nodeExporterFqdn,
      nodeExporter,
      startedMs,
      workDir,
      process: proc,
      async stop() {
        await stopStarted();
        if (!options.keepData) await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

/**
 * The scrape configuration Prometheus runs (prometheus-config.ts), as VictoriaMetrics 1.79's strict
 * parser takes it: without the `storage` section (the TSDB's out-of-order window, which
 * VictoriaMetrics does not need) and `global.evaluation_interval` (it evaluates no rules). The
 * targets, labels and relabelling stay as they are.
 */
export function victoriaMetricsScrapeConfig(prometheusYaml: string): string {
  const config = parse(prometheusYaml) as { global?: Record<string, unknown>; storage?: unknown };
  delete config.storage;
  if (config.global) delete config.global.evaluation_interval;
  return `# Written by test/support/victoria-metrics.ts from test/support/prometheus-config.ts\n${stringify(config)}`;
}

/**
 * The OpenMetrics text as Prometheus text exposition for /api/v1/import/prometheus: no `# EOF`,
 * timestamps in milliseconds.
 */
export function prometheusExposition(openMetrics: string): { text: string; samples: number } {
  let samples = 0;
  const lines: string[] = [];
  for (const line of openMetrics.split("\n")) {
    if (line === "" || line === "# EOF") continue;
    if (line.startsWith("#")) {
      lines.push(line);
      continue;
    }
    const match = / (-?\d+)$/.exec(line);
    if (!match) throw new Error(`sample line without a timestamp: ${line.slice(0, 200)}`);
    lines.push(`${line.slice(0, match.index)} ${match[1]}000`);
    samples++;
  }
  return { text: `${lines.join("\n")}\n`, samples };
}

/** Imports the fleet, checks that every sample line was taken, and makes it searchable. */
async function importFleet(url: string, openMetrics: string): Promise<number> {
  const { text, samples } = prometheusExposition(openMetrics);
  const before = await insertedRows(url);
  const res = await fetch(`${url}/api/v1/import/prometheus`, {
    method: "POST",
    body: text,
    signal: AbortSignal.timeout(30_000),
  });
  const answer = await res.text();
  if (res.status !== 204) throw new Error(`import answered ${res.status}: ${answer.slice(0, 500)}`);
  // The counter moves once the rows have reached the storage, a moment after the 204.
  let inserted = 0;
  await waitUntil(
    "every imported sample counted in vm_rows_inserted_total",
    async () => {
      inserted = (await insertedRows(url)) - before;
      return inserted >= samples;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  ).catch(() => {
    throw new Error(`VictoriaMetrics took ${inserted} of the ${samples} imported samples`);
  });
  if (inserted !== samples) {
    throw new Error(`VictoriaMetrics counted ${inserted} rows for the ${samples} imported samples`);
  }
  const flush = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) });
  await flush.arrayBuffer();
  if (!flush.ok) throw new Error(`/internal/force_flush answered ${flush.status}`);
  return samples;
}

/** `vm_rows_inserted_total{type="prometheus"}` from VictoriaMetrics's own /metrics. */
async function insertedRows(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const match = /^vm_rows_inserted_total\{type="prometheus"\} (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Throws, naming the package, unless `command` is an executable on PATH. */
async function requireProgram(command: string): Promise<void> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      await access(join(dir, command), constants.X_OK);
      return;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `${command} is not installed: scripts/install-test-deps.sh installs Debian's victoria-metrics package`,
  );
}
