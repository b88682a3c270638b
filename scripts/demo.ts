import { join } from "node:path";
import { startApp } from "../src/app.js";
import { formatListenAddress } from "../src/config/listen-address.js";
import { loadConfig } from "../src/config/load.js";
import { createLogger } from "../src/log.js";
import { startPrometheus } from "../test/support/prometheus.js";

const DEMO_HOURS = 6;

/**
 * The demo backend is the test fixture: a real Prometheus backfilled with the sample fleet (data
 * reaching DEMO_HOURS into the future, so values stay exact that long) and a real node exporter.
 */
const prometheus = await startPrometheus({
  baseDir: join(process.cwd(), ".run"),
  futureSec: DEMO_HOURS * 3600,
});
const config = loadConfig({
  argv: [],
  env: {
    METRICS_ACCESS__METRICS_ACCESS__LOG_LEVEL: "warn",
    ...process.env,
    METRICS_ACCESS__WATCHER_DATASOURCES__DATASOURCES: "prometheus",
    METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: "127.0.0.1",
    METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(prometheus.port),
  },
  readFile: () => {
    throw new Error("the demo reads no files");
  },
});
const app = await startApp(config, createLogger(config.server.logLevel));
const listen = config.server.listen;
// On a unix socket (listen = unix:/path), curl and buf curl take the path apart from the URL.
const url =
  listen.kind === "tcp" ? `http://${formatListenAddress({ ...listen, port: app.port })}` : "http://localhost";
const via = listen.kind === "unix" ? ` --unix-socket ${listen.path}` : "";
const where = listen.kind === "tcp" ? url : `${formatListenAddress(listen)} (${url} through the socket)`;

process.stdout.write(`
metrics-access is serving on ${where} (gRPC, gRPC-Web and Connect on one port)
in front of a real Prometheus at ${prometheus.url} holding a sample fleet for the next ${DEMO_HOURS} h.

Try, from another terminal in this directory:

  npx buf curl${via} --protocol grpc --list-services ${url}

  npx buf curl${via} --protocol grpc -d '{"host":"compute-1.example","metric":"host_cpu_usage"}' \\
    ${url}/metricsaccess.v1.MetricsService/GetHostMetric

    answers {"result": {"metric": "host_cpu_usage", "value": 31.25, "unit": "%", "labelName": "fqdn",
             "labelValue": "compute-1.example", "evaluationTime": "…", "query": "100 - (avg by …", "seriesCount": 1}}

  npx buf curl${via} --protocol grpc -d '{"host":"compute-2","metric":"host_ram_usage","aggregate":"AGGREGATE_MAX","period":"600s"}' \\
    ${url}/metricsaccess.v1.MetricsService/GetHostMetric

  npx buf curl${via} --protocol grpc -d '{"instanceId":"33333333-3333-4333-8333-333333333333","metric":"instance_cpu_usage","vcpus":2}' \\
    ${url}/metricsaccess.v1.MetricsService/GetInstanceMetric

  npx buf curl${via} --protocol grpc -d '{"host":"compute-1.example","metric":"host_power","aggregate":"AGGREGATE_MAX"}' \\
    ${url}/metricsaccess.v1.MetricsService/GetHostMetric

  npx buf curl${via} --protocol grpc -d '{"instanceId":"11111111-1111-4111-8111-111111111111","metric":"instance_ram_allocated"}' \\
    ${url}/metricsaccess.v1.MetricsService/GetInstanceMetric

  npx buf curl${via} --protocol grpc -d '{"pageSize":3}' ${url}/metricsaccess.v1.MetricsService/ListHosts

  npx buf curl${via} --protocol grpc -d '{"subject":"SUBJECT_HOST"}' ${url}/metricsaccess.v1.MetricsService/ListMetrics

  npx buf curl${via} --protocol grpc -d '{"allHosts":true,"metrics":["host_cpu_usage","host_power"]}' \\
    ${url}/metricsaccess.v1.MetricsService/GetHostMetrics

  curl${via} -s -H 'content-type: application/json' -d '{"host":"compute-1.example","metric":"host_cpu_usage"}' \\
    ${url}/metricsaccess.v1.MetricsService/GetHostMetric

Hosts: compute-1.example, compute-2.example, compute-3.example (idle), twin.a.example, twin.b.example,
shorty, node-exporter.local.example (a live node exporter). Instances: 11111111-…, 22222222-…,
33333333-…, 44444444-… (the README lists them). Ctrl-C stops the service and Prometheus.
`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void app
      .stop()
      .then(() => prometheus.stop())
      .then(() => process.exit(0));
  });
}
