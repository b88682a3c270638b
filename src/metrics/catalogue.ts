/**
 * The metric catalogue as data: Watcher's eleven metrics as built-in defaults, merged with the
 * operator's overrides and additions (catalogue-build.ts) into the table the service answers from.
 * Templates are PromQL with placeholders that only promql.ts fills (see TEMPLATE_PLACEHOLDERS there).
 * A built-in template may also hold {{series}}: the one series an operator's `series` option
 * replaces; it is filled in when the catalogue is built, so the finished table never holds it.
 */
export type Subject = "host" | "instance";
export const SUBJECTS: readonly Subject[] = ["host", "instance"];
/** "a host metric", "an instance metric": for messages. */
export const SUBJECT_PHRASE: Readonly<Record<Subject, string>> = {
  host: "a host metric",
  instance: "an instance metric",
};

/** Where a definition comes from: ours unchanged, ours changed by configuration, or the operator's. */
export type MetricOrigin = "built_in" | "overridden" | "configured";

/** One metric of the finished catalogue. */
export interface MetricDefinition {
  /** Watcher's name for the built-ins; the operator's own for added metrics. */
  readonly name: string;
  readonly subject: Subject;
  /** UCUM-style, as OpenTelemetry writes units: %, KiBy, MBy, GBy, By, W, Cel, … */
  readonly unit: string;
  readonly description: string;
  /** PromQL with placeholders, {{series}} already filled in. */
  readonly template: string;
  /** The series names the template reads, found by parsing it. */
  readonly series: readonly string[];
  /** The label that selects the resource; undefined means the datasource section's label. */
  readonly label: string | undefined;
  /**
   * Watcher's get_host_* swaps max and min, because node exporter measures idle CPU and available
   * memory: the busiest reading is the least idle one.
   */
  readonly invertMinMax: boolean;
  readonly origin: MetricOrigin;
  /** Whether the `series` option can replace its series (built-ins that read one series). */
  readonly seriesReplaceable: boolean;
}

/** A built-in default. */
export interface BuiltInMetric {
  readonly name: string;
  readonly subject: Subject;
  readonly unit: string;
  readonly description: string;
  readonly template: string;
  /** The series {{series}} stands for; undefined when the template names its series itself. */
  readonly defaultSeries: string | undefined;
  readonly invertMinMax: boolean;
}

/** Ceilometer gauges as sg-core publishes them: the meter over the period, like Watcher's RAM. */
const overTime = "{{agg}}_over_time({{series}}{{{matcher}}}[{{period}}s])";

/**
 * Watcher's four Prometheus templates are byte for byte Watcher's
 * (watcher/decision_engine/datasources/prometheus_base.py) once rendered. The other seven are ours,
 * for what Watcher reads from Gnocchi or Nova: Ceilometer's meters as sg-core publishes them
 * (docs/metrics.md gives each source).
 */
export const BUILT_IN_METRICS: readonly BuiltInMetric[] = [
  {
    name: "host_cpu_usage",
    subject: "host",
    unit: "%",
    description: "Percent of the host's CPU time not idle, 0 to 100 (node exporter).",
    template: "100 - ({{agg}} by ({{label}})(rate({{series}}{mode='idle',{{matcher}}}[{{period}}s])) * 100)",
    defaultSeries: "node_cpu_seconds_total",
    invertMinMax: true,
  },
  {
    name: "host_ram_usage",
    subject: "host",
    unit: "KiBy",
    description: "Memory in use, MemTotal minus MemAvailable, in KiB (node exporter).",
    template:
      "(node_memory_MemTotal_bytes{{{matcher}}} - {{agg}}_over_time(node_memory_MemAvailable_bytes{{{matcher}}}[{{period}}s])) / 1024",
    defaultSeries: undefined,
    invertMinMax: true,
  },
  {
    name: "host_outlet_temp",
    subject: "host",
    unit: "Cel",
    description: "Outlet (exhaust) air temperature of the host, in degrees Celsius (Ceilometer IPMI).",
    template: overTime,
    defaultSeries: "ceilometer_hardware_ipmi_node_outlet_temperature",
    invertMinMax: false,
  },
  {
    name: "host_inlet_temp",
    subject: "host",
    unit: "Cel",
    description: "Inlet air temperature of the host, in degrees Celsius (Ceilometer IPMI).",
    template: overTime,
    defaultSeries: "ceilometer_hardware_ipmi_node_temperature",
    invertMinMax: false,
  },
  {
    name: "host_airflow",
    subject: "host",
    unit: "[cft_i]/min",
    description: "Volumetric airflow through the host, in cubic feet per minute (Ceilometer IPMI).",
    template: overTime,
    defaultSeries: "ceilometer_hardware_ipmi_node_airflow",
    invertMinMax: false,
  },
  {
    name: "host_power",
    subject: "host",
    unit: "W",
    description: "Power the host draws, in watts (Ceilometer IPMI).",
    template: overTime,
    defaultSeries: "ceilometer_hardware_ipmi_node_power",
    invertMinMax: false,
  },
  {
    name: "instance_cpu_usage",
    subject: "instance",
    unit: "%",
    description: "Percent of the instance's vCPUs in use, capped at 100 (Ceilometer cpu).",
    template:
      "clamp_max(({{agg}} by ({{label}})(rate({{series}}{{{matcher}}}[{{period}}s]))/10e+8) *(100/{{vcpus}}), 100)",
    defaultSeries: "ceilometer_cpu",
    invertMinMax: false,
  },
  {
    name: "instance_ram_usage",
    subject: "instance",
    unit: "MBy",
    description: "Memory the instance uses, in MB as Ceilometer counts them (Ceilometer memory.usage).",
    template: overTime,
    defaultSeries: "ceilometer_memory_usage",
    invertMinMax: false,
  },
  {
    name: "instance_ram_allocated",
    subject: "instance",
    unit: "MBy",
    description: "Memory the instance's flavor allocates, in MB (Ceilometer memory).",
    template: overTime,
    defaultSeries: "ceilometer_memory",
    invertMinMax: false,
  },
  {
    name: "instance_l3_cache_usage",
    subject: "instance",
    unit: "By",
    description: "L3 cache the instance occupies, in bytes (Ceilometer cpu_l3_cache, libvirt perf).",
    template: overTime,
    defaultSeries: "ceilometer_cpu_l3_cache",
    invertMinMax: false,
  },
  {
    name: "instance_root_disk_size",
    subject: "instance",
    unit: "GBy",
    description: "Size of the instance's root disk, in GB (Ceilometer disk.root.size).",
    template: overTime,
    defaultSeries: "ceilometer_disk_root_size",
    invertMinMax: false,
  },
];

/** The finished catalogue the service answers from. */
export class Catalogue {
  readonly #byName: ReadonlyMap<string, MetricDefinition>;
  readonly #sorted: readonly MetricDefinition[];

  constructor(definitions: readonly MetricDefinition[]) {
    this.#sorted = [...definitions].sort(
      (a, b) => SUBJECTS.indexOf(a.subject) - SUBJECTS.indexOf(b.subject) || compare(a.name, b.name),
    );
    this.#byName = new Map(this.#sorted.map((d) => [d.name, d]));
  }

  get(name: string): MetricDefinition | undefined {
    return this.#byName.get(name);
  }

  /** Every metric, or those of one subject, sorted by subject then name. */
  list(subject?: Subject): readonly MetricDefinition[] {
    return subject === undefined ? this.#sorted : this.#sorted.filter((d) => d.subject === subject);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
