import { describe, expect, it } from "vitest";
import { METRICS, type MetricDefinition } from "./catalogue.js";
import { templatePlaceholders } from "./promql.js";

const all: [string, MetricDefinition][] = Object.entries(METRICS);

describe("the metric catalogue", () => {
  it("holds exactly Watcher's eleven metrics, each under its own name", () => {
    expect(Object.keys(METRICS).sort()).toEqual([
      "host_airflow",
      "host_cpu_usage",
      "host_inlet_temp",
      "host_outlet_temp",
      "host_power",
      "host_ram_usage",
      "instance_cpu_usage",
      "instance_l3_cache_usage",
      "instance_ram_allocated",
      "instance_ram_usage",
      "instance_root_disk_size",
    ]);
    for (const [key, definition] of all) expect(definition.name).toBe(key);
  });

  it("gives each metric the subject its name says", () => {
    for (const [key, definition] of all) {
      expect(definition.subject).toBe(key.startsWith("host_") ? "host" : "instance");
    }
  });

  it("has a query for exactly the four metrics Watcher reads from Prometheus", () => {
    const queried = all.filter(([, d]) => d.template !== undefined).map(([k]) => k);
    expect(queried.sort()).toEqual([
      "host_cpu_usage",
      "host_ram_usage",
      "instance_cpu_usage",
      "instance_ram_usage",
    ]);
  });

  it("uses Watcher's units: percent for CPU, KiB for host RAM, MB for instance RAM", () => {
    expect(METRICS.host_cpu_usage.unit).toBe("percent");
    expect(METRICS.host_ram_usage.unit).toBe("kibibyte");
    expect(METRICS.instance_cpu_usage.unit).toBe("percent");
    expect(METRICS.instance_ram_usage.unit).toBe("megabyte");
  });

  it("queries the meters Watcher maps the metrics to", () => {
    expect(METRICS.host_cpu_usage.template).toContain("node_cpu_seconds_total{mode='idle',");
    expect(METRICS.host_ram_usage.template).toContain("node_memory_MemAvailable_bytes");
    expect(METRICS.host_ram_usage.template).toContain("node_memory_MemTotal_bytes");
    expect(METRICS.instance_cpu_usage.template).toContain("ceilometer_cpu{");
    expect(METRICS.instance_ram_usage.template).toContain("ceilometer_memory_usage{");
  });

  it("inverts max and min only for the host CPU and host RAM metrics", () => {
    const inverted = all.filter(([, d]) => d.invertMinMax).map(([k]) => k);
    expect(inverted.sort()).toEqual(["host_cpu_usage", "host_ram_usage"]);
  });

  it("explains every metric without a query, and has no unit for it", () => {
    for (const [, definition] of all.filter(([, d]) => d.template === undefined)) {
      expect(definition.unavailable).toMatch(/\S/);
      expect(definition.unit).toBeUndefined();
    }
  });

  it("says that allocated RAM and root disk size come from Nova, not Prometheus", () => {
    expect(METRICS.instance_ram_allocated.unavailable).toMatch(/Nova/);
    expect(METRICS.instance_root_disk_size.unavailable).toMatch(/Nova/);
    expect(METRICS.host_outlet_temp.unavailable).toMatch(/no Prometheus source/);
  });

  it("uses the value placeholder exactly where the label is compared", () => {
    for (const [, definition] of all) {
      if (definition.template === undefined) continue;
      const placeholders = templatePlaceholders(definition.template);
      const compared = definition.template.match(/\{\{label\}\}=\{\{value\}\}/g) ?? [];
      expect(placeholders.filter((p) => p === "value")).toHaveLength(compared.length);
      expect(compared.length).toBeGreaterThan(0);
    }
  });
});
