import { describe, expect, it } from "vitest";
import { BUILT_IN_METRICS, Catalogue, type MetricDefinition } from "./catalogue.js";
import { buildCatalogue } from "./catalogue-build.js";
import { renderTemplate, templatePlaceholders } from "./promql.js";

/** Watcher's eleven metric names, host metrics first, each subject sorted. */
const WATCHER_METRICS = [
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
];
const defaults = buildCatalogue([]);
const byName = new Map(defaults.metrics.map((d) => [d.name, d]));
const get = (name: string): MetricDefinition => {
  const found = byName.get(name);
  if (!found) throw new Error(`no ${name}`);
  return found;
};

describe("the built-in catalogue", () => {
  it("holds exactly Watcher's eleven metrics, and builds without a problem", () => {
    expect(defaults.problems).toEqual([]);
    expect([...byName.keys()].sort()).toEqual(WATCHER_METRICS);
  });

  it("gives each metric the subject its name says", () => {
    for (const d of defaults.metrics)
      expect(d.subject).toBe(d.name.startsWith("host_") ? "host" : "instance");
  });

  it("uses Watcher's units, written UCUM-style", () => {
    expect(Object.fromEntries(defaults.metrics.map((d) => [d.name, d.unit]))).toEqual({
      host_cpu_usage: "%",
      host_ram_usage: "KiBy",
      host_outlet_temp: "Cel",
      host_inlet_temp: "Cel",
      host_airflow: "[cft_i]/min",
      host_power: "W",
      instance_cpu_usage: "%",
      instance_ram_usage: "MBy",
      instance_ram_allocated: "MBy",
      instance_l3_cache_usage: "By",
      instance_root_disk_size: "GBy",
    });
  });

  it("reads the series Watcher maps each metric to, as sg-core names Ceilometer's meters", () => {
    expect(Object.fromEntries(defaults.metrics.map((d) => [d.name, d.series]))).toEqual({
      host_cpu_usage: ["node_cpu_seconds_total"],
      host_ram_usage: ["node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes"],
      host_outlet_temp: ["ceilometer_hardware_ipmi_node_outlet_temperature"],
      host_inlet_temp: ["ceilometer_hardware_ipmi_node_temperature"],
      host_airflow: ["ceilometer_hardware_ipmi_node_airflow"],
      host_power: ["ceilometer_hardware_ipmi_node_power"],
      instance_cpu_usage: ["ceilometer_cpu"],
      instance_ram_usage: ["ceilometer_memory_usage"],
      instance_ram_allocated: ["ceilometer_memory"],
      instance_l3_cache_usage: ["ceilometer_cpu_l3_cache"],
      instance_root_disk_size: ["ceilometer_disk_root_size"],
    });
  });

  it("renders Watcher's four queries byte for byte", () => {
    const host = { agg: "avg", label: "fqdn", value: "host.example.com", period: 300 } as const;
    expect(renderTemplate(get("host_cpu_usage").template, host)).toBe(
      "100 - (avg by (fqdn)(rate(node_cpu_seconds_total{mode='idle',fqdn='host.example.com'}[300s])) * 100)",
    );
    expect(renderTemplate(get("host_ram_usage").template, { ...host, agg: "min", period: 444 })).toBe(
      "(node_memory_MemTotal_bytes{fqdn='host.example.com'} - min_over_time(node_memory_MemAvailable_bytes{fqdn='host.example.com'}[444s])) / 1024",
    );
    const vm = { agg: "max", label: "resource", value: "uuid-0", period: 300, vcpus: 4 } as const;
    expect(renderTemplate(get("instance_cpu_usage").template, vm)).toBe(
      "clamp_max((max by (resource)(rate(ceilometer_cpu{resource='uuid-0'}[300s]))/10e+8) *(100/4), 100)",
    );
    expect(renderTemplate(get("instance_ram_usage").template, { ...vm, agg: "avg", period: 222 })).toBe(
      "avg_over_time(ceilometer_memory_usage{resource='uuid-0'}[222s])",
    );
  });

  it("inverts max and min only for the host CPU and host RAM metrics", () => {
    const inverted = defaults.metrics.filter((d) => d.invertMinMax).map((d) => d.name);
    expect(inverted.sort()).toEqual(["host_cpu_usage", "host_ram_usage"]);
  });

  it("selects the resource with {{matcher}} in every template, and asks vcpus only of instance CPU", () => {
    for (const d of defaults.metrics) {
      const used = templatePlaceholders(d.template);
      expect(used).toContain("matcher");
      expect(used.includes("vcpus")).toBe(d.name === "instance_cpu_usage");
    }
  });

  it("lets the series option replace every built-in's series except host RAM's two", () => {
    const fixed = defaults.metrics.filter((d) => !d.seriesReplaceable).map((d) => d.name);
    expect(fixed).toEqual(["host_ram_usage"]);
    expect(BUILT_IN_METRICS.every((b) => b.description !== "")).toBe(true);
  });
});

describe("Catalogue", () => {
  const catalogue = new Catalogue(defaults.metrics);

  it("lists host metrics before instance metrics, each sorted by name", () => {
    expect(catalogue.list().map((d) => d.name)).toEqual(WATCHER_METRICS);
    expect(catalogue.list("instance").every((d) => d.subject === "instance")).toBe(true);
  });

  it("finds a metric by name and nothing by an unknown one", () => {
    expect(catalogue.get("host_power")?.unit).toBe("W");
    expect(catalogue.get("HOST_POWER")).toBeUndefined();
  });
});
