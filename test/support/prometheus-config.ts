/**
 * prometheus.yml for startPrometheus (prometheus.ts): placeholder targets carrying the fleet's host
 * labels (what Watcher's host map reads), and the real node exporter when there is one.
 */
import type { Fleet } from "./fleet.js";

// JSON strings are valid YAML double-quoted scalars, so any label value (quotes, backslashes) is
// carried verbatim without a YAML library.
const y = (s: string): string => JSON.stringify(s);

export function prometheusConfig(
  fleet: Fleet,
  options: { oooHours: number; nodeExporter: { address: string; fqdn: string } | undefined },
): string {
  // Placeholder targets point at port 0, to which no connection can ever succeed: they are listed
  // as active (health down), which is all Watcher's host map needs. The drop rule is a second
  // guard: nothing a placeholder scrape returned could ever land in the fleet's series.
  const dropAll = [
    "    metric_relabel_configs:",
    "      - source_labels: [__name__]",
    '        regex: ".+"',
    "        action: drop",
  ];
  const lines = [
    "# Written by test/support/prometheus-config.ts",
    "global:",
    "  scrape_interval: 15s",
    "  scrape_timeout: 5s",
    "  evaluation_interval: 15s",
    "storage:",
    "  tsdb:",
    `    out_of_order_time_window: ${options.oooHours}h`,
    "scrape_configs:",
    `  - job_name: ${y(fleet.nodeJob)}`,
    "    static_configs:",
  ];
  for (const h of fleet.hosts) {
    lines.push(
      `      - targets: [${y("127.0.0.1:0")}]`,
      `        labels: {${y(fleet.hostLabel)}: ${y(h.fqdn)}, "instance": ${y(h.instance)}}`,
    );
  }
  lines.push(...dropAll);
  // sg-core carries no host label; Watcher must ignore such targets.
  lines.push(
    `  - job_name: ${y(fleet.ceilometerJob)}`,
    "    static_configs:",
    `      - targets: [${y("127.0.0.1:0")}]`,
    `        labels: {"instance": ${y(fleet.ceilometerInstance)}}`,
    ...dropAll,
  );
  if (options.nodeExporter) {
    lines.push(
      '  - job_name: "node-exporter"',
      "    scrape_interval: 5s",
      "    static_configs:",
      `      - targets: [${y(options.nodeExporter.address)}]`,
      `        labels: {${y(fleet.hostLabel)}: ${y(options.nodeExporter.fqdn)}}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
