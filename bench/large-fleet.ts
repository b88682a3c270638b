/**
 * A 10,000-host fleet (issue 10, point 3): a real Prometheus whose active targets carry 10,000 host
 * label values (placeholder targets that never answer a scrape, as in the test fleet) and whose
 * backfilled node series let a whole-fleet batch compute real numbers. Measured: the target list
 * straight from Prometheus, the service's first load of it, a refresh, host resolution of every
 * host, ListHosts paged through, whole-fleet batches, and the service's memory.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { request } from "undici";
import { ItemStatus, MetricsService } from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { startPrometheus } from "../test/support/prometheus.js";
import { createBenchFleet, hostName } from "./fleet.js";
import { MB, markdownTable } from "./report.js";
import { startService } from "./service.js";
import { fixed, median } from "./stats.js";

export const LARGE_FLEET_HOSTS = 10_000;
const REPEATS = 5;
const PAGE_SIZE = 1000;
/** Short, so that a miss after it reloads the targets: the refresh is what is measured. */
const REFRESH_INTERVAL_S = 1;

export interface LargeFleetResult {
  readonly hosts: number;
  readonly backfillMs: number;
  /** GET /api/v1/targets?state=active straight from Prometheus (undici), medians. */
  readonly targetsDirectMs: number;
  readonly targetsBytes: number;
  /** Every page of ListHosts (page_size 1000), warm, median of the whole walk. */
  readonly pagedListMs: number;
  readonly pages: number;
  /** A stale list: answered from the last load while the reload runs in the background. */
  readonly staleListMs: number;
  /** GetHostMetric of an unknown host after the interval: one reload of 10,000 targets, waited for. */
  readonly refreshOnMissMs: number;
  /** GetHostMetrics naming every host (resolution of 10,000 names), host_cpu_usage. */
  readonly batchNamedMs: number;
  /** GetHostMetrics all_hosts, host_cpu_usage. */
  readonly batchAllMs: number;
  readonly batchOkItems: number;
  readonly idleRssBytes: number;
  readonly loadedRssBytes: number;
  readonly peakRssBytes: number;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function medianOf(repeats: number, work: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) samples.push((await timed(work)).ms);
  return median(samples);
}

/** Starts the large fleet's Prometheus and a service on it, measures, stops both. */
export async function measureLargeFleet(
  workDir: string,
  nodeArgs: readonly string[],
): Promise<LargeFleetResult> {
  const fleet = createBenchFleet({ hosts: LARGE_FLEET_HOSTS, vms: 0 });
  const backfill = await timed(() =>
    // rate() over 300 s needs 5 min of history; a few minutes ahead keep "now" inside the samples.
    startPrometheus({
      baseDir: workDir,
      fleet,
      nodeExporter: false,
      pastSec: 420,
      futureSec: 600,
      stepSec: 30,
      timeoutMs: 300_000,
    }),
  );
  const prometheus = backfill.value;
  try {
    let targetsBytes = 0;
    const targetsDirectMs = await medianOf(REPEATS, async () => {
      const res = await request(`${prometheus.url}/api/v1/targets?state=active`);
      targetsBytes = (await res.body.arrayBuffer()).byteLength;
    });

    const service = await startService(
      "metrics-access-bench-10k",
      workDir,
      {
        "watcher_datasources.datasources": "prometheus",
        "prometheus_client.host": "127.0.0.1",
        "prometheus_client.port": String(prometheus.port),
        "metrics_access.target_refresh_interval": String(REFRESH_INTERVAL_S),
      },
      nodeArgs,
    );
    try {
      // startService waited for a first ListHosts, so the list is loaded; the refresh on a miss
      // below times a load of the same list.
      const client = createClient(MetricsService, createGrpcTransport({ baseUrl: service.baseUrl }));
      const idleRssBytes = service.peakRssBytes();
      const walk = async () => {
        let token = "";
        let pages = 0;
        do {
          const page = await client.listHosts({ pageSize: PAGE_SIZE, pageToken: token });
          token = page.nextPageToken;
          pages++;
        } while (token !== "");
        return pages;
      };
      const pages = await walk();
      const pagedListMs = await medianOf(REPEATS, walk);
      const loadedRssBytes = service.peakRssBytes();

      // Each wait outlasts the interval after the last reload ended (a reload stamps its end).
      const pause = () => new Promise((resolve) => setTimeout(resolve, REFRESH_INTERVAL_S * 1000 + 500));
      const missSamples: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        await pause();
        const miss = () =>
          client.getHostMetric({ host: `absent-${i}.bench.example`, metric: "host_cpu_usage" }).then(
            () => undefined,
            () => undefined,
          );
        missSamples.push((await timed(miss)).ms);
      }
      const staleSamples: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        await pause();
        staleSamples.push((await timed(() => client.listHosts({ pageSize: PAGE_SIZE }))).ms);
      }

      const names = Array.from({ length: LARGE_FLEET_HOSTS }, (_, i) => hostName(i));
      let batchOkItems = 0;
      const batchNamedMs = await medianOf(REPEATS, async () => {
        const res = await client.getHostMetrics({ hosts: names, metrics: ["host_cpu_usage"] });
        batchOkItems = res.items.filter((item) => item.status === ItemStatus.OK).length;
      });
      const batchAllMs = await medianOf(REPEATS, () =>
        client.getHostMetrics({ allHosts: true, metrics: ["host_cpu_usage"] }),
      );
      return {
        hosts: LARGE_FLEET_HOSTS,
        backfillMs: backfill.ms,
        targetsDirectMs,
        targetsBytes,
        pagedListMs,
        pages,
        staleListMs: median(staleSamples),
        refreshOnMissMs: median(missSamples),
        batchNamedMs,
        batchAllMs,
        batchOkItems,
        idleRssBytes,
        loadedRssBytes,
        peakRssBytes: service.peakRssBytes(),
      };
    } finally {
      await service.stop();
    }
  } finally {
    await prometheus.stop();
  }
}

export function largeFleetSection(r: LargeFleetResult): string {
  const n = r.hosts.toLocaleString("en");
  return [
    `## ${n} hosts`,
    "",
    `A second Prometheus whose active targets carry ${n} host label values (placeholder targets that`,
    "never answer a scrape, as the test fleet's) and whose backfilled node series give every host a",
    `value (backfilled in ${fixed(r.backfillMs / 1000, 0)} s). The service, as shipped, with`,
    `\`target_refresh_interval = ${REFRESH_INTERVAL_S}\` so that a refresh can be provoked; medians of ${REPEATS}.`,
    "",
    markdownTable(
      ["what", "time", "notes"],
      [
        [
          "target list straight from Prometheus (undici)",
          `${fixed(r.targetsDirectMs, 0)} ms`,
          `${fixed(r.targetsBytes / MB, 1)} MB of JSON`,
        ],
        [
          "GetHostMetric of an unknown host after the interval",
          `${fixed(r.refreshOnMissMs, 0)} ms`,
          "the one reload a miss waits for (as Watcher's lookup), then NOT_FOUND",
        ],
        [
          "ListHosts with a stale list",
          `${fixed(r.staleListMs, 0)} ms`,
          "answered from the last load; the reload runs in the background",
        ],
        [
          `ListHosts, every page (page_size ${PAGE_SIZE})`,
          `${fixed(r.pagedListMs, 0)} ms`,
          `${r.pages} pages`,
        ],
        [
          `GetHostMetrics naming all ${n} hosts, host_cpu_usage`,
          `${fixed(r.batchNamedMs, 0)} ms`,
          `resolution of every name, one query; ${r.batchOkItems.toLocaleString("en")} items OK`,
        ],
        ["GetHostMetrics all_hosts, host_cpu_usage", `${fixed(r.batchAllMs, 0)} ms`, "one unfiltered query"],
      ],
    ),
    "",
    `Memory (VmHWM): ${fixed(r.idleRssBytes / MB, 0)} MB after the first ListHosts loaded the ${n} targets,`,
    `${fixed(r.loadedRssBytes / MB, 0)} MB after paging through them, ${fixed(r.peakRssBytes / MB, 0)} MB at the end (after`,
    `${REPEATS * 2} whole-fleet batches). The directory keeps one entry per host and per target; a reload`,
    "builds the new one beside the old and swaps it, so at most two exist at once.",
    "",
  ].join("\n");
}
