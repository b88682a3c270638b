import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Pool } from "undici";
import { MetricsService } from "../src/gen/metricsaccess/v1/metrics_pb.js";
import { freePort, spawnLogged, waitUntil } from "../test/support/processes.js";
import { startPrometheus } from "../test/support/prometheus.js";

/**
 * The service against direct Prometheus on the same queries: a Node client with an undici
 * keep-alive pool sending Watcher's PromQL straight to /api/v1/query, versus the same answers
 * through metrics-access (a separate process) over gRPC (h2c) and Connect JSON (HTTP/1.1).
 * Prints a table of medians and ratios; nothing is asserted.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const CONCURRENCY = 16;

const prometheus = await startPrometheus({ baseDir: join(process.cwd(), ".run"), nodeExporter: false });
const port = await freePort();
const service = await spawnLogged({
  name: "metrics-access-bench",
  command: process.execPath,
  args: ["--import", "tsx", "src/main.ts"],
  logDir: prometheus.workDir,
  env: {
    ...process.env,
    METRICS_ACCESS__METRICS_ACCESS__LISTEN: `127.0.0.1:${port}`,
    METRICS_ACCESS__METRICS_ACCESS__LOG_LEVEL: "warn",
    METRICS_ACCESS__WATCHER_DATASOURCES__DATASOURCES: "prometheus",
    METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: "127.0.0.1",
    METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(prometheus.port),
  },
});
const baseUrl = `http://127.0.0.1:${port}`;
const grpc = createClient(MetricsService, createGrpcTransport({ baseUrl }));
const connectJson = createClient(MetricsService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
await waitUntil(
  "the service to answer",
  async () => {
    await grpc.listHosts({});
    return true;
  },
  { timeoutMs: 30_000, process: service },
);

const direct = new Pool(prometheus.url, { connections: 32 });
async function directQuery(promql: string): Promise<number> {
  const res = await direct.request({
    method: "GET",
    path: `/api/v1/query?${new URLSearchParams({ query: promql })}`,
    headers: { accept: "application/json" },
  });
  const body = (await res.body.json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1]);
}

const hostPromql =
  "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='compute-1.example'}[300s])) * 100)";
const vmPromql =
  "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource='22222222-2222-4222-8222-222222222222'}[300s]))/10e+8) *(100/2), 100)";
const hostReq = { host: "compute-1.example", metric: "host_cpu_usage" };
const vmReq = {
  instanceId: "22222222-2222-4222-8222-222222222222",
  metric: "instance_cpu_usage",
  vcpus: 2,
};

type Call = () => Promise<unknown>;
const workloads: { name: string; direct: Call; viaGrpc: Call; viaConnect: Call }[] = [
  {
    name: "host_cpu_usage",
    direct: () => directQuery(hostPromql),
    viaGrpc: () => grpc.getHostMetric(hostReq),
    viaConnect: () => connectJson.getHostMetric(hostReq),
  },
  {
    name: "instance_cpu_usage",
    direct: () => directQuery(vmPromql),
    viaGrpc: () => grpc.getInstanceMetric(vmReq),
    viaConnect: () => connectJson.getInstanceMetric(vmReq),
  },
];

/** Milliseconds per call for CALLS calls, `concurrency` at a time. */
async function measure(call: Call, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < CALLS) await call();
    }),
  );
  return (performance.now() - started) / CALLS;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const rows: string[][] = [];
for (const w of workloads) {
  for (const concurrency of [1, CONCURRENCY]) {
    const results = { direct: [] as number[], grpc: [] as number[], connect: [] as number[] };
    for (const call of [w.direct, w.viaGrpc, w.viaConnect]) await measure(call, concurrency);
    for (let round = 0; round < ROUNDS; round++) {
      results.direct.push(await measure(w.direct, concurrency));
      results.grpc.push(await measure(w.viaGrpc, concurrency));
      results.connect.push(await measure(w.viaConnect, concurrency));
    }
    const d = median(results.direct);
    const g = median(results.grpc);
    const c = median(results.connect);
    rows.push([
      w.name,
      String(concurrency),
      d.toFixed(3),
      g.toFixed(3),
      (g / d).toFixed(2),
      c.toFixed(3),
      (c / d).toFixed(2),
    ]);
  }
}

const header = [
  "workload",
  "concurrency",
  "direct ms/call",
  "gRPC ms/call",
  "gRPC ÷ direct",
  "Connect/1.1 ms/call",
  "Connect ÷ direct",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
process.stdout.write(
  [
    `\nmetrics-access vs direct Prometheus (${CALLS} calls × ${ROUNDS} rounds, medians; Prometheus ${prometheus.url}, loopback)\n`,
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
  ].join("\n"),
);

await direct.close();
await service.stop();
await prometheus.stop();
