/**
 * `npm run bench`: metrics-access against direct Prometheus on a large backfilled fleet (1,000 hosts,
 * 5,000 instances), and through the real Aetos. Starts everything it measures as real processes,
 * runs the phases (phases.ts) interleaved and repeated, prints Markdown tables and writes them, with
 * the machine's facts and each target met or not, to docs/benchmarks.md. Nothing is asserted.
 *
 * Sizes: BENCH_ROUNDS (default 5) rounds of BENCH_CALLS (default 300) sequential single calls.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildCatalogue } from "../src/metrics/catalogue-build.js";
import { renderTemplate } from "../src/metrics/promql.js";
import { stopAll, throwFirstFailure } from "../test/support/processes.js";
import { startPrometheus } from "../test/support/prometheus.js";
import { startBenchAetos, startBenchKeystone } from "./aetos.js";
import {
  type Callers,
  directQuery,
  type HostItem,
  hostWorkload,
  type InstanceItem,
  instanceWorkload,
  openCallers,
  throughput,
} from "./clients.js";
import { writeBenchmarksDoc } from "./doc.js";
import { createBenchFleet, hostName, vmUuid, vmVcpus } from "./fleet.js";
import { LARGE_FLEET_HOSTS, largeFleetSection, measureLargeFleet } from "./large-fleet.js";
import { loadAverage, machineFacts } from "./machine.js";
import { hostSweep, instanceSweep, singleCalls, throughputAt } from "./phases.js";
import { preparePython } from "./python.js";
import { type BenchResults, memoryTable, singleCallTable, sweepTable, throughputTable } from "./report.js";
import { type BenchService, startFloorServer, startService } from "./service.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const HOSTS = 1000;
const VMS = 5000;
// Every 5th instance: 1,000 distinct instances for the single-call rounds, all vCPU counts among them.
const VM_SAMPLE_STEP = 5;
// rate() over 300 s needs 5 min of history; 18 min ahead keeps queries at "now" exact through the
// run. At a 30 s step that is ~1.7 M samples: renderOpenMetrics builds the whole OpenMetrics text as
// one string, which V8 caps at 512 MiB (~1 GiB with 30 min ahead fails), and promtool takes ~15 s.
const WINDOW = { pastSec: 420, futureSec: 1080, stepSec: 30 };
const THROUGHPUT = [
  { concurrency: 1, calls: CALLS },
  { concurrency: 16, calls: 1600 },
  { concurrency: 64, calls: 3200 },
];

const wallStart = performance.now();
const facts = machineFacts();
const loads: { phase: string; load: string }[] = [];
const phase = (name: string) => {
  loads.push({ phase: name, load: loadAverage() });
  process.stderr.write(`[${((performance.now() - wallStart) / 1000).toFixed(0)} s] ${name}\n`);
};
const workDir = join(process.cwd(), ".run", `bench-${process.pid}`);
const cleanups: (() => Promise<void>)[] = [];

try {
  phase("start");
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const fleet = createBenchFleet({ hosts: HOSTS, vms: VMS });
  const backfillStart = performance.now();
  // Keystone's start-up needs no Prometheus: it runs while promtool backfills.
  const [prometheusStart, keystoneStart] = await Promise.allSettled([
    startPrometheus({
      baseDir: workDir,
      fleet,
      nodeExporter: false,
      ...WINDOW,
      timeoutMs: 300_000,
    }).then((p) => {
      cleanups.push(() => p.stop());
      return { prometheus: p, ms: performance.now() - backfillStart };
    }),
    startBenchKeystone(workDir).then((k) => {
      cleanups.push(() => k.stop());
      return k;
    }),
  ]);
  throwFirstFailure([prometheusStart, keystoneStart]);
  if (prometheusStart.status !== "fulfilled" || keystoneStart.status !== "fulfilled")
    throw new Error("unreachable");
  const { prometheus, ms: backfillMs } = prometheusStart.value;
  const stack = await startBenchAetos(workDir, keystoneStart.value, prometheus.port);
  cleanups.push(() => stack.stop());

  const directOptions = {
    "watcher_datasources.datasources": "prometheus",
    "prometheus_client.host": "127.0.0.1",
    "prometheus_client.port": String(prometheus.port),
  };
  const service = await startService("metrics-access-bench", workDir, directOptions);
  cleanups.push(() => service.stop());
  // The forwarding floor sends one host's host_cpu_usage query, rendered by the service's own code.
  const hostCpu = buildCatalogue([]).metrics.find((m) => m.name === "host_cpu_usage")?.template ?? "";
  const floorPromql = renderTemplate(hostCpu, { agg: "avg", label: "fqdn", value: hostName(0), period: 300 });
  const [fixedFloor, forwardingFloor] = await Promise.all([
    startFloorServer(workDir),
    startFloorServer(workDir, { prometheusUrl: prometheus.url, promql: floorPromql }),
  ]);
  cleanups.push(
    () => fixedFloor.stop(),
    () => forwardingFloor.stop(),
  );
  const floors = { fixed: fixedFloor.target, forwarding: forwardingFloor.target };
  const callers = openCallers(service.baseUrl, prometheus.url, floors);
  cleanups.push(() => callers.close());

  phase("collect the service's PromQL for every host and sampled instance");
  const hosts = Array.from({ length: HOSTS }, (_, i) => hostName(i));
  const instances = Array.from({ length: VMS }, (_, i) => ({ instanceId: vmUuid(i), vcpus: vmVcpus(i) }));
  const workloadItems = await collectQueries(callers, hosts, instances);
  const workloadFile = join(workDir, "workload.json");
  await writeFile(workloadFile, JSON.stringify(workloadItems));
  const python = await preparePython(workDir, service.target, prometheus.url, workloadFile);
  const hostW = hostWorkload(callers, workloadItems.hosts);
  const vmW = instanceWorkload(callers, workloadItems.instances);

  phase("single calls, sequential");
  const single = [
    ...(await singleCalls(hostW, "hosts", python, floors.forwarding, ROUNDS, CALLS)),
    ...(await singleCalls(vmW, "instances", python, floors.forwarding, ROUNDS, CALLS)),
  ];
  process.stdout.write(`\n${singleCallTable(single)}\n`);

  phase("throughput at concurrency 1, 16, 64");
  const throughputResults = [];
  for (const { concurrency, calls } of THROUGHPUT) {
    throughputResults.push(
      await throughputAt(
        hostW.direct,
        hostW.grpcJs,
        hostW.grpcFloor,
        hostW.grpcForwardFloor,
        service,
        concurrency,
        calls,
        3,
      ),
    );
  }
  process.stdout.write(`\n${throughputTable(throughputResults)}\n`);

  phase("peak RSS at 64 concurrent callers (fresh service)");
  const rssDefault = await rssAt64(workDir, directOptions, prometheus.url, floors, workloadItems, []);
  const rssSmallYoung = await rssAt64(workDir, directOptions, prometheus.url, floors, workloadItems, [
    "--max-semi-space-size=2",
  ]);
  const rss = { ...rssDefault, peakBytesSmallYoung: rssSmallYoung.peakBytes };

  phase("sweeps straight to Prometheus");
  const sweeps = [
    await hostSweep(callers, hosts, { backend: "Prometheus", rounds: 3, batchesPerRound: 3 }),
    await instanceSweep(callers, instances, { backend: "Prometheus", rounds: 1, batchesPerRound: 5 }),
  ];

  phase("sweeps through Aetos");
  const viaAetos = await startService("metrics-access-bench-aetos", workDir, stack.serviceOptions);
  cleanups.push(() => viaAetos.stop());
  const aetosCallers = openCallers(viaAetos.baseUrl, prometheus.url, floors);
  cleanups.push(() => aetosCallers.close());
  sweeps.push(
    await hostSweep(aetosCallers, hosts, { backend: "Aetos", rounds: 1, batchesPerRound: 5 }),
    await instanceSweep(aetosCallers, instances, { backend: "Aetos", rounds: 1, batchesPerRound: 5 }),
  );
  process.stdout.write(`\n${sweepTable(sweeps)}\n`);
  const results: BenchResults = {
    single,
    throughput: throughputResults,
    rss: {
      ...rss,
      afterSweeps: { Prometheus: service.peakRssBytes(), Aetos: viaAetos.peakRssBytes() },
    },
    sweeps,
  };
  process.stdout.write(`\n${memoryTable(results.rss)}\n`);

  phase(`${LARGE_FLEET_HOSTS.toLocaleString("en")} hosts (a second Prometheus)`);
  const largeFleet = await measureLargeFleet(workDir, ["--max-semi-space-size=2"]);
  process.stdout.write(`\n${largeFleetSection(largeFleet)}\n`);
  phase("end");
  const doc = await writeBenchmarksDoc(results, {
    facts,
    loads,
    rounds: ROUNDS,
    calls: CALLS,
    fleet: { hosts: HOSTS, vms: VMS, backfillMs, ...WINDOW },
    aetosVersion: stack.aetos.version,
    aetosWorkers: stack.aetos.processes,
    wallMs: performance.now() - wallStart,
    largeFleet: largeFleetSection(largeFleet),
  });
  process.stdout.write(`\n${doc.targetsTable}\n\nwritten to ${doc.path}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  // A safety net: whatever a failed start left behind.
  await stopAll();
  await rm(workDir, { recursive: true, force: true });
  process.stderr.write(`bench: ${((performance.now() - wallStart) / 1000).toFixed(0)} s wall\n`);
}
// Client-side HTTP/2 sessions may linger on idle timers; everything the bench started is stopped.
process.exit();

/** The PromQL the service ran for each host and sampled instance (its answer's `query`). */
async function collectQueries(
  callers: Callers,
  hosts: readonly string[],
  instances: readonly { instanceId: string; vcpus: number }[],
): Promise<{ hosts: HostItem[]; instances: InstanceItem[] }> {
  const sampled = instances.filter((_, i) => i % VM_SAMPLE_STEP === 0);
  const hostItems: HostItem[] = [];
  for (const host of hosts) {
    const { result } = await callers.connectGrpc.getHostMetric({ host, metric: "host_cpu_usage" });
    hostItems.push({ host, promql: result?.query ?? "" });
  }
  const instanceItems: InstanceItem[] = [];
  for (const { instanceId, vcpus } of sampled) {
    const { result } = await callers.connectGrpc.getInstanceMetric({
      instanceId,
      vcpus,
      metric: "instance_cpu_usage",
    });
    instanceItems.push({ instanceId, vcpus, promql: result?.query ?? "" });
  }
  // The floor must ask exactly what the service asks, and get the same number — up to the last bits,
  // which rate()'s extrapolation changes with the evaluation time (the two are asked moments apart).
  const [firstHost, firstVm] = [hostItems[0], instanceItems[0]];
  if (!firstHost || !firstVm) throw new Error("empty workload");
  const direct = await directQuery(callers.direct, firstHost.promql);
  const via = (await callers.connectGrpc.getHostMetric({ host: firstHost.host, metric: "host_cpu_usage" }))
    .result?.value;
  if (direct === undefined || via === undefined || Math.abs(direct - via) > 1e-9 * Math.abs(direct)) {
    throw new Error(`direct ${direct} ≠ service ${via}`);
  }
  return { hosts: hostItems, instances: instanceItems };
}

/** VmHWM of a fresh service before and after 64 concurrent callers (VmHWM cannot be reset). */
async function rssAt64(
  logDir: string,
  options: Record<string, string>,
  prometheusUrl: string,
  floors: { readonly fixed: string; readonly forwarding: string },
  items: { hosts: HostItem[]; instances: InstanceItem[] },
  nodeArgs: readonly string[],
): Promise<{ idleBytes: number; peakBytes: number; calls: number }> {
  let fresh: BenchService | undefined;
  let callers: Callers | undefined;
  try {
    fresh = await startService("metrics-access-bench-rss", logDir, options, nodeArgs);
    callers = openCallers(fresh.baseUrl, prometheusUrl, floors);
    const hostW = hostWorkload(callers, items.hosts);
    const vmW = instanceWorkload(callers, items.instances);
    await throughput(hostW.grpcJs, 100, 1);
    await throughput(vmW.grpcJs, 100, 1);
    const idleBytes = fresh.peakRssBytes();
    const calls = 4000;
    await throughput(hostW.grpcJs, calls, 64);
    await throughput(vmW.grpcJs, calls, 64);
    return { idleBytes, peakBytes: fresh.peakRssBytes(), calls: 2 * calls };
  } finally {
    await callers?.close();
    await fresh?.stop();
  }
}
