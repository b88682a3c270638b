/**
 * Watcher's metrics as data. A template is PromQL with {{placeholders}} that only promql.ts fills:
 *   {{agg}}    avg | max | min
 *   {{label}}  the host or instance label name from configuration
 *   {{value}}  the label value, as an escaped PromQL string literal with its quotes
 *   {{period}} whole seconds
 *   {{vcpus}}  the instance's vCPU count
 * The strings are byte for byte Watcher's (watcher/decision_engine/datasources/prometheus_base.py).
 * A metric without a template has no Prometheus source; a later issue makes this table configurable.
 */
export type Unit = "percent" | "kibibyte" | "megabyte" | "gigabyte";
export type Subject = "host" | "instance";

export interface MetricDefinition {
  /** Watcher's metric name. */
  readonly name: string;
  readonly subject: Subject;
  /** Undefined for metrics without a source: Watcher has no unit for them that we could honour. */
  readonly unit: Unit | undefined;
  readonly template: string | undefined;
  /** Why there is no template, for the FAILED_PRECONDITION message. */
  readonly unavailable?: string;
  /**
   * Watcher's get_host_* swaps max and min, because node exporter measures idle CPU and available
   * memory: the busiest reading is the least idle one.
   */
  readonly invertMinMax: boolean;
}

const noSource = "has no Prometheus source in Watcher's Prometheus datasource";
const fromNova = "is read from Nova's data model by Watcher, not from Prometheus";

export const METRICS = {
  host_cpu_usage: {
    name: "host_cpu_usage",
    subject: "host",
    unit: "percent",
    template:
      "100 - ({{agg}} by ({{label}})(rate(node_cpu_seconds_total{mode='idle',{{label}}={{value}}}[{{period}}s])) * 100)",
    invertMinMax: true,
  },
  host_ram_usage: {
    name: "host_ram_usage",
    subject: "host",
    unit: "kibibyte",
    template:
      "(node_memory_MemTotal_bytes{{{label}}={{value}}} - {{agg}}_over_time(node_memory_MemAvailable_bytes{{{label}}={{value}}}[{{period}}s])) / 1024",
    invertMinMax: true,
  },
  host_outlet_temp: {
    name: "host_outlet_temp",
    subject: "host",
    unit: undefined,
    template: undefined,
    unavailable: noSource,
    invertMinMax: false,
  },
  host_inlet_temp: {
    name: "host_inlet_temp",
    subject: "host",
    unit: undefined,
    template: undefined,
    unavailable: noSource,
    invertMinMax: false,
  },
  host_airflow: {
    name: "host_airflow",
    subject: "host",
    unit: undefined,
    template: undefined,
    unavailable: noSource,
    invertMinMax: false,
  },
  host_power: {
    name: "host_power",
    subject: "host",
    unit: undefined,
    template: undefined,
    unavailable: noSource,
    invertMinMax: false,
  },
  instance_cpu_usage: {
    name: "instance_cpu_usage",
    subject: "instance",
    unit: "percent",
    template:
      "clamp_max(({{agg}} by ({{label}})(rate(ceilometer_cpu{{{label}}={{value}}}[{{period}}s]))/10e+8) *(100/{{vcpus}}), 100)",
    invertMinMax: false,
  },
  instance_ram_usage: {
    name: "instance_ram_usage",
    subject: "instance",
    unit: "megabyte",
    template: "{{agg}}_over_time(ceilometer_memory_usage{{{label}}={{value}}}[{{period}}s])",
    invertMinMax: false,
  },
  instance_ram_allocated: {
    name: "instance_ram_allocated",
    subject: "instance",
    unit: undefined,
    template: undefined,
    unavailable: fromNova,
    invertMinMax: false,
  },
  instance_l3_cache_usage: {
    name: "instance_l3_cache_usage",
    subject: "instance",
    unit: undefined,
    template: undefined,
    unavailable: noSource,
    invertMinMax: false,
  },
  instance_root_disk_size: {
    name: "instance_root_disk_size",
    subject: "instance",
    unit: undefined,
    template: undefined,
    unavailable: fromNova,
    invertMinMax: false,
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
