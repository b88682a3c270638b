/**
 * A deterministic sample fleet for a real Prometheus 2.42, and the exact values Prometheus must
 * answer for the four Watcher queries over it. Pure data and functions: no I/O, no test framework,
 * so a long-running demo process can use it as well as the tests.
 *
 * How the numbers are made exact:
 * - Every sample sits on an absolute time grid (multiples of the step since the epoch), and a gauge's
 *   value depends only on its grid index, so two renders of the same window are byte-identical.
 * - Gauges repeat a short pattern whose length divides 10. A window of 300 s or 600 s at a 30 s step
 *   that does not start exactly on a grid point holds exactly 10 or 20 samples, i.e. whole pattern
 *   periods, so avg/max/min_over_time do not depend on when the query runs (see {@link nominalValue}).
 * - Counters are linear, so rate() is their slope up to float rounding; {@link expectedValue} repeats
 *   Prometheus 2.42's own float arithmetic and therefore predicts the answer bit for bit.
 *
 * Verified against Prometheus 2.42 (test/integration/fleet-prometheus.test.ts):
 * - a range selector `[p]` evaluated at t selects the samples with t-p <= ts <= t, BOTH ends
 *   inclusive (Prometheus 3.x made the left end exclusive). At a t exactly on the 30 s grid a 300 s
 *   window therefore holds 11 samples, otherwise 10;
 * - rate() of a linear counter is its slope only up to float rounding, because of the extrapolation
 *   factor `(extrapolatedInterval / sampledInterval) / range`: at a 30 s step a 300 s window gave
 *   exactly the slope at ~99 % of evaluation times, a 600 s window almost never (off by one ulp,
 *   e.g. 0.9999999999999999 for a slope of 1). That is why compute-3's idle counters are sampled
 *   every second: with that step a slope of 1 comes out as exactly 1 at every millisecond for every
 *   period from 60 s to 1800 s, so the host's CPU usage is a real 0.
 */

/** The PromQL aggregate actually run (after any max/min swap done by the caller). */
export type PromAggregate = "avg" | "max" | "min";

/** The Watcher metrics that are backed by a PromQL query. */
export type FleetMetric = "host_cpu_usage" | "host_ram_usage" | "instance_cpu_usage" | "instance_ram_usage";

/** A compute host as node exporter would report it. */
export interface FleetHost {
  /** Value of the fleet's host label (`fqdn` by default), exactly as Watcher would match it. */
  readonly fqdn: string;
  /** The `instance` label of its series and of its (placeholder) scrape target. */
  readonly instance: string;
  /**
   * Idle fraction of each CPU (`cpu="0"`, `"1"`, …). Dyadic fractions keep the counters exact.
   * user and system share the rest 3:1.
   */
  readonly cpuIdle: readonly number[];
  /** Sample step of the idle counters when it must differ from the window's step (see compute-3). */
  readonly cpuStepSec?: number;
  readonly memTotalBytes: number;
  /** MemAvailable, a pattern repeated along the absolute sample grid; its length must divide 10. */
  readonly memAvailableBytes: readonly number[];
  /** Why this host is in the fleet. */
  readonly role: string;
}

/** One `ceilometer_cpu` series of a VM. */
export interface FleetVmCpu {
  readonly publisher: string;
  /** Cores in use: the counter grows by `cores * 1e9` ns per second. */
  readonly cores: number;
}

/** One `ceilometer_memory_usage` series of a VM. */
export interface FleetVmMemory {
  readonly publisher: string;
  /** MB, a pattern repeated along the sample grid (length divides 10); NaN is allowed. */
  readonly usageMb: readonly number[];
}

/** A Nova instance as Ceilometer publishes it through sg-core. */
export interface FleetVm {
  readonly uuid: string;
  readonly name: string;
  /** fqdn of the host it runs on (informational; Ceilometer series carry no host label). */
  readonly host: string;
  /** Flavor vCPUs, what Watcher passes as `<vcpus>`. */
  readonly vcpus: number;
  /** Flavor RAM in MB. */
  readonly memoryMb: number;
  readonly project: string;
  readonly user: string;
  readonly cpu: readonly FleetVmCpu[];
  readonly memoryUsage: readonly FleetVmMemory[];
  readonly role: string;
}

/** The whole sample fleet plus the label names the queries use. */
export interface Fleet {
  /** Label carrying the host name, Watcher's `fqdn_label` (default `fqdn`). */
  readonly hostLabel: string;
  /** Label carrying the instance UUID, Watcher's `instance_uuid_label` (default `resource`). */
  readonly instanceLabel: string;
  /** `job` label of the node exporter series and placeholder targets. */
  readonly nodeJob: string;
  /** `job` label of the Ceilometer series (sg-core is what Prometheus scrapes for them). */
  readonly ceilometerJob: string;
  /** `instance` label of the Ceilometer series and of the sg-core placeholder target. */
  readonly ceilometerInstance: string;
  readonly hosts: readonly FleetHost[];
  readonly vms: readonly FleetVm[];
}

/** The span and grid of rendered samples, in whole seconds since the epoch. */
export interface SampleWindow {
  /** First instant that may carry a sample (samples sit on multiples of the step). */
  readonly startSec: number;
  /** Last instant that may carry a sample. */
  readonly endSec: number;
  readonly stepSec: number;
}

/** One of the four Watcher queries, with everything that changes its answer. */
export type FleetQuery =
  | {
      readonly metric: "host_cpu_usage" | "host_ram_usage";
      /** Host label value. */
      readonly host: string;
      readonly aggregate: PromAggregate;
      readonly periodSec: number;
    }
  | {
      readonly metric: "instance_cpu_usage";
      readonly uuid: string;
      readonly aggregate: PromAggregate;
      readonly periodSec: number;
      readonly vcpus: number;
    }
  | {
      readonly metric: "instance_ram_usage";
      readonly uuid: string;
      readonly aggregate: PromAggregate;
      readonly periodSec: number;
    };

/** One element of the instant vector Prometheus returns. */
export interface ExpectedSample {
  /** The result's labels (no `__name__`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const mib = (values: readonly number[]): number[] => values.map((v) => v * MiB);

/** The fqdn of the host whose label value needs escaping in PromQL, YAML and OpenMetrics alike. */
export const ODD_HOST = `odd'host"x\\y.example`;

const PROJECT = "0123456789abcdef0123456789abcdef";
const USER = "fedcba9876543210fedcba9876543210";

/** Options of {@link createSampleFleet}. */
export interface SampleFleetOptions {
  /** Host label name, default `fqdn`. */
  readonly hostLabel?: string;
  /** Instance UUID label name, default `resource`. */
  readonly instanceLabel?: string;
}

// Label names the series already use for something else; the configurable labels must not collide.
const RESERVED_LABELS = new Set([
  "__name__",
  "cpu",
  "mode",
  "instance",
  "job",
  "publisher",
  "project",
  "user",
  "counter",
  "type",
  "unit",
  "resource_name",
]);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The sample fleet. Nominal values at a glance (any period that is a multiple of 300 s; RAM in KiB;
 * the PromQL aggregate as run: host CPU is `100 - agg(idle)*100` and host RAM is
 * `MemTotal - agg_over_time(MemAvailable)`, so `max` gives the LEAST busy CPU and the LEAST used RAM):
 *
 * | host | CPU avg / max / min | RAM avg / max_over_time / min_over_time |
 * | --- | --- | --- |
 * | compute-1.example (4 CPUs) | 31.25 / 12.5 / 50 | 9961472 / 9437184 / 10485760 |
 * | compute-2.example (2 CPUs) | 68.75 / 62.5 / 75 | 28311552 / 27262976 / 29360128 |
 * | compute-3.example (idle) | 0 / 0 / 0 | 1048576 |
 * | odd'host"x\y.example | 37.5 / 25 / 50 | 2621440 / 2097152 / 3145728 |
 * | twin.a.example | 25 / 12.5 / 37.5 | 3670016 / 3145728 / 4194304 |
 * | twin.b.example | 75 / 62.5 / 87.5 | 6291456 / 5242880 / 7340032 |
 * | shorty | 62.5 / 50 / 75 | 1310720 / 1048576 / 1572864 |
 *
 * | VM (vcpus) | CPU avg / max / min (%) | RAM avg / max / min (MB) |
 * | --- | --- | --- |
 * | vm-a 1111… (1) | 25 | 768 / 1024 / 512 |
 * | vm-b 2222… (2), 2 series each | 62.5 / 75 / 50 | publisher ceilometer 2304 / 2816 / 1792; ceilometer-b 3136 / 3200 / 3072 |
 * | vm-c 3333… (1) | 100 (150 before clamp_max; 75 with vcpus 2) | 800 / 1000 / 600 |
 * | vm-d 4444… (2) | 0 | NaN |
 */
export function createSampleFleet(options: SampleFleetOptions = {}): Fleet {
  const hostLabel = options.hostLabel ?? "fqdn";
  const instanceLabel = options.instanceLabel ?? "resource";
  for (const name of [hostLabel, instanceLabel]) {
    if (!LABEL_NAME.test(name) || RESERVED_LABELS.has(name)) {
      throw new Error(`label name ${JSON.stringify(name)} is invalid or already used by the fleet's series`);
    }
  }
  if (hostLabel === instanceLabel) throw new Error("host and instance labels must differ");
  return {
    hostLabel,
    instanceLabel,
    nodeJob: "node",
    ceilometerJob: "sg-core",
    ceilometerInstance: "10.0.0.100:3000",
    hosts: [
      {
        fqdn: "compute-1.example",
        instance: "10.0.0.1:9100",
        cpuIdle: [0.75, 0.5, 0.875, 0.625],
        memTotalBytes: 16 * GiB,
        memAvailableBytes: mib([6144, 6400, 6656, 6272, 6528, 6784, 7040, 6912, 7168, 6656]),
        role: "4 CPUs with different idle fractions; MemAvailable varies with a 10-sample period",
      },
      {
        fqdn: "compute-2.example",
        instance: "10.0.0.2:9100",
        cpuIdle: [0.25, 0.375],
        memTotalBytes: 32 * GiB,
        memAvailableBytes: mib([6144, 5120, 4096, 5632, 4608]),
        role: "busy host, 2 CPUs",
      },
      {
        fqdn: "compute-3.example",
        instance: "10.0.0.3:9100",
        cpuIdle: [1, 1],
        // At a 30 s step rate() of a slope-1 counter can come out as 0.9999999999999999 and the host's
        // usage as 1.4e-14; sampled every second it is exactly 1 for every period from 60 s to 1800 s.
        cpuStepSec: 1,
        memTotalBytes: 8 * GiB,
        memAvailableBytes: mib([7168]),
        role: "fully idle: host CPU usage is exactly 0 for every aggregate and period",
      },
      {
        fqdn: ODD_HOST,
        instance: "10.0.0.4:9100",
        cpuIdle: [0.5, 0.75],
        memTotalBytes: 4 * GiB,
        memAvailableBytes: mib([1024, 2048]),
        role: "label value with a single quote, a double quote and a backslash",
      },
      {
        fqdn: "twin.a.example",
        instance: "10.0.0.5:9100",
        cpuIdle: [0.875, 0.625],
        memTotalBytes: 8 * GiB,
        memAvailableBytes: mib([4096, 5120]),
        role: "same short name as twin.b.example",
      },
      {
        fqdn: "twin.b.example",
        instance: "10.0.0.6:9100",
        cpuIdle: [0.125, 0.375],
        memTotalBytes: 8 * GiB,
        memAvailableBytes: mib([1024, 2048, 3072, 2048, 2048]),
        role: "same short name as twin.a.example",
      },
      {
        fqdn: "shorty",
        instance: "10.0.0.7:9100",
        cpuIdle: [0.5, 0.25],
        memTotalBytes: 2 * GiB,
        memAvailableBytes: mib([512, 1024]),
        role: "host label is a short name without a dot (resolvable only by exact match)",
      },
    ],
    vms: [
      {
        uuid: "11111111-1111-4111-8111-111111111111",
        name: "vm-a",
        host: "compute-1.example",
        vcpus: 1,
        memoryMb: 2048,
        project: PROJECT,
        user: USER,
        cpu: [{ publisher: "ceilometer", cores: 0.25 }],
        memoryUsage: [{ publisher: "ceilometer", usageMb: [512, 768, 1024, 640, 896] }],
        role: "plain VM",
      },
      {
        uuid: "22222222-2222-4222-8222-222222222222",
        name: "vm-b",
        host: "compute-1.example",
        vcpus: 2,
        memoryMb: 4096,
        project: PROJECT,
        user: USER,
        cpu: [
          { publisher: "ceilometer", cores: 1.5 },
          { publisher: "ceilometer-b", cores: 1 },
        ],
        memoryUsage: [
          { publisher: "ceilometer", usageMb: [2048, 2304, 2560, 1792, 2816] },
          { publisher: "ceilometer-b", usageMb: [3072, 3200] },
        ],
        role: "two publishers: CPU aggregates differ, RAM usage returns two series",
      },
      {
        uuid: "33333333-3333-4333-8333-333333333333",
        name: "vm-c",
        host: "compute-2.example",
        vcpus: 1,
        memoryMb: 1024,
        project: PROJECT,
        user: USER,
        cpu: [{ publisher: "ceilometer", cores: 1.5 }],
        memoryUsage: [{ publisher: "ceilometer", usageMb: [600, 700, 800, 900, 1000] }],
        role: "uses 1.5 cores on 1 vCPU: clamp_max caps the usage at 100",
      },
      {
        uuid: "44444444-4444-4444-8444-444444444444",
        name: "vm-d",
        host: "compute-2.example",
        vcpus: 2,
        memoryMb: 2048,
        project: PROJECT,
        user: USER,
        cpu: [{ publisher: "ceilometer", cores: 0 }],
        memoryUsage: [{ publisher: "ceilometer", usageMb: [Number.NaN] }],
        role: "idle (CPU exactly 0) and its memory usage is NaN",
      },
    ],
  };
}

/** The fleet with Watcher's default labels, `fqdn` and `resource`. */
export const SAMPLE_FLEET: Fleet = createSampleFleet();

/** Options of {@link fleetWindow}. */
export interface FleetWindowOptions {
  /** Seconds of data before the origin, default 7800 (2 h plus room for a 600 s window). */
  readonly pastSec?: number;
  /** Seconds of data after the origin, default 3600, so queries at "now" stay exact for an hour. */
  readonly futureSec?: number;
  /** Default 30. */
  readonly stepSec?: number;
}

/** The sample window around `originSec`: from `pastSec` before it to `futureSec` after it. */
export function fleetWindow(originSec: number, options: FleetWindowOptions = {}): SampleWindow {
  const window = {
    startSec: originSec - (options.pastSec ?? 7800),
    endSec: originSec + (options.futureSec ?? 3600),
    stepSec: options.stepSec ?? 30,
  };
  checkWindow(window);
  return window;
}

function checkWindow(window: SampleWindow): void {
  const { startSec, endSec, stepSec } = window;
  if (![startSec, endSec, stepSec].every(Number.isSafeInteger) || stepSec <= 0 || endSec <= startSec) {
    throw new Error(`bad sample window ${JSON.stringify(window)}: whole seconds, step > 0, start < end`);
  }
}

// ---------------------------------------------------------------------------------------------
// Series: the single source for both the OpenMetrics text and the expected values.

type Labels = Readonly<Record<string, string>>;

interface SeriesDef {
  /** OpenMetrics family name and type. */
  readonly family: string;
  readonly type: "counter" | "gauge" | "unknown";
  /** Sample name, i.e. Prometheus's `__name__`. */
  readonly name: string;
  readonly labels: Labels;
  readonly stepSec: number;
  /** Value of the sample at `tSec`, which is grid point number `index` (= tSec / stepSec). */
  readonly valueAt: (tSec: number, index: number) => number;
}

interface Sample {
  /** Milliseconds, as Prometheus stores them. */
  readonly t: number;
  readonly v: number;
}

// Counters start from a non-zero base so that rate()'s "extrapolate to zero" rule never applies.
const NODE_CPU_BASE_SEC = 1_000_000;
const CEILOMETER_CPU_BASE_NS = 500_000_000_000;

function pattern(values: readonly number[]): (tSec: number, index: number) => number {
  if (values.length === 0) throw new Error("empty value pattern");
  return (_t, index) => values[((index % values.length) + values.length) % values.length] ?? Number.NaN;
}

function fleetSeries(fleet: Fleet, window: SampleWindow): SeriesDef[] {
  const step = window.stepSec;
  // Relative to the window start, so that nanosecond counters stay far below 2^53 and exact.
  const linear =
    (base: number, perSec: number) =>
    (t: number): number =>
      base + perSec * (t - window.startSec);
  const out: SeriesDef[] = [];
  const nodeLabels = (h: FleetHost): Record<string, string> => ({
    [fleet.hostLabel]: h.fqdn,
    instance: h.instance,
    job: fleet.nodeJob,
  });
  for (const h of fleet.hosts) {
    h.cpuIdle.forEach((idle, cpu) => {
      const busy = 1 - idle;
      const modes: [string, number, number][] = [
        ["idle", idle, h.cpuStepSec ?? step],
        ["user", busy * 0.75, step],
        ["system", busy * 0.25, step],
      ];
      for (const [mode, perSec, stepSec] of modes) {
        out.push({
          family: "node_cpu_seconds",
          type: "counter",
          name: "node_cpu_seconds_total",
          labels: { cpu: String(cpu), ...nodeLabels(h), mode },
          stepSec,
          valueAt: linear(NODE_CPU_BASE_SEC, perSec),
        });
      }
    });
  }
  for (const h of fleet.hosts) {
    out.push({
      family: "node_memory_MemTotal_bytes",
      type: "gauge",
      name: "node_memory_MemTotal_bytes",
      labels: nodeLabels(h),
      stepSec: step,
      valueAt: () => h.memTotalBytes,
    });
  }
  for (const h of fleet.hosts) {
    out.push({
      family: "node_memory_MemAvailable_bytes",
      type: "gauge",
      name: "node_memory_MemAvailable_bytes",
      labels: nodeLabels(h),
      stepSec: step,
      valueAt: pattern(h.memAvailableBytes),
    });
  }
  const vmLabels = (vm: FleetVm, publisher: string, counter: string, type: string, unit: string) => ({
    counter,
    instance: fleet.ceilometerInstance,
    job: fleet.ceilometerJob,
    project: vm.project,
    publisher,
    [fleet.instanceLabel]: vm.uuid,
    resource_name: vm.name,
    type,
    unit,
    user: vm.user,
  });
  // ceilometer_cpu is a cumulative counter without the _total suffix, which OpenMetrics demands of
  // a "counter" family; "unknown" is what a faithful exposition would use.
  for (const vm of fleet.vms) {
    for (const c of vm.cpu) {
      out.push({
        family: "ceilometer_cpu",
        type: "unknown",
        name: "ceilometer_cpu",
        labels: vmLabels(vm, c.publisher, "cpu", "cumulative", "ns"),
        stepSec: step,
        valueAt: linear(CEILOMETER_CPU_BASE_NS, c.cores * 1e9),
      });
    }
  }
  for (const vm of fleet.vms) {
    for (const m of vm.memoryUsage) {
      out.push({
        family: "ceilometer_memory_usage",
        type: "gauge",
        name: "ceilometer_memory_usage",
        labels: vmLabels(vm, m.publisher, "memory.usage", "gauge", "MB"),
        stepSec: step,
        valueAt: pattern(m.usageMb),
      });
    }
  }
  // Not queried by Watcher (it reads flavor sizes from Nova), but Ceilometer publishes them.
  for (const vm of fleet.vms) {
    out.push({
      family: "ceilometer_memory",
      type: "gauge",
      name: "ceilometer_memory",
      labels: vmLabels(vm, "ceilometer", "memory", "gauge", "MB"),
      stepSec: step,
      valueAt: () => vm.memoryMb,
    });
  }
  for (const vm of fleet.vms) {
    out.push({
      family: "ceilometer_vcpus",
      type: "gauge",
      name: "ceilometer_vcpus",
      labels: vmLabels(vm, "ceilometer", "vcpus", "gauge", "vcpu"),
      stepSec: step,
      valueAt: () => vm.vcpus,
    });
  }
  return out;
}

/** Grid indices k (sample at k*step seconds) inside the window and inside [fromMs, toMs]. */
function gridRange(stepSec: number, window: SampleWindow, fromMs: number, toMs: number): [number, number] {
  const stepMs = stepSec * 1000;
  const first = Math.max(Math.ceil(window.startSec / stepSec), Math.ceil(fromMs / stepMs));
  const last = Math.min(Math.floor(window.endSec / stepSec), Math.floor(toMs / stepMs));
  return [first, last];
}

function samplesIn(series: SeriesDef, window: SampleWindow, fromMs: number, toMs: number): Sample[] {
  const [first, last] = gridRange(series.stepSec, window, fromMs, toMs);
  const out: Sample[] = [];
  for (let k = first; k <= last; k++) {
    const tSec = k * series.stepSec;
    out.push({ t: tSec * 1000, v: series.valueAt(tSec, k) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// OpenMetrics

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatLabels(labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabelValue(labels[k] ?? "")}"`);
  return `{${parts.join(",")}}`;
}

// JavaScript's shortest round-trip form parses back (in Go too) to the very same float64, which is
// what lets expectedValue() reproduce Prometheus's arithmetic bit for bit.
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/**
 * The fleet's samples in the window as an OpenMetrics text for `promtool tsdb create-blocks-from
 * openmetrics`: families contiguous, each series' samples in increasing time order, timestamps in
 * whole SECONDS (milliseconds would be taken as seconds and land in the year ~58000), and the
 * mandatory final `# EOF`.
 */
export function renderOpenMetrics(fleet: Fleet, window: SampleWindow): string {
  checkWindow(window);
  const lines: string[] = [];
  let family = "";
  for (const s of fleetSeries(fleet, window)) {
    if (s.family !== family) {
      family = s.family;
      lines.push(`# TYPE ${s.family} ${s.type}`);
    }
    const head = `${s.name}${formatLabels(s.labels)} `;
    const [first, last] = gridRange(s.stepSec, window, -Infinity, Infinity);
    for (let k = first; k <= last; k++) {
      const tSec = k * s.stepSec;
      lines.push(`${head}${formatValue(s.valueAt(tSec, k))} ${tSec}`);
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// PromQL as Watcher writes it

function quote(value: string): string {
  // PromQL unquotes single-quoted strings with Go's escape rules.
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
}

/**
 * The PromQL Watcher sends for `query`, with the fleet's label names. Unlike Watcher, which pastes
 * label values in unescaped, the value is escaped, so the odd host's name is matched literally.
 */
export function watcherPromQL(fleet: Fleet, query: FleetQuery): string {
  const F = fleet.hostLabel;
  const U = fleet.instanceLabel;
  const p = `${query.periodSec}s`;
  const agg = query.aggregate;
  switch (query.metric) {
    case "host_cpu_usage":
      return `100 - (${agg} by (${F})(rate(node_cpu_seconds_total{mode='idle',${F}=${quote(query.host)}}[${p}])) * 100)`;
    case "host_ram_usage": {
      const sel = `{${F}=${quote(query.host)}}`;
      return `(node_memory_MemTotal_bytes${sel} - ${agg}_over_time(node_memory_MemAvailable_bytes${sel}[${p}])) / 1024`;
    }
    case "instance_cpu_usage":
      return `clamp_max((${agg} by (${U})(rate(ceilometer_cpu{${U}=${quote(query.uuid)}}[${p}]))/10e+8) *(100/${query.vcpus}), 100)`;
    case "instance_ram_usage":
      return `${agg}_over_time(ceilometer_memory_usage{${U}=${quote(query.uuid)}}[${p}])`;
  }
}

// ---------------------------------------------------------------------------------------------
// Prometheus 2.42's arithmetic, step by step (promql/functions.go, promql/engine.go at v2.42.0).

const LOOKBACK_DELTA_MS = 5 * 60 * 1000;

/** labels.Compare: label names in order, then values; a prefix sorts first. */
function compareLabels(a: Labels, b: Labels): number {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const na = ka[i] ?? "";
    const nb = kb[i] ?? "";
    if (na !== nb) return na < nb ? -1 : 1;
    const va = a[na] ?? "";
    const vb = b[nb] ?? "";
    if (va !== vb) return va < vb ? -1 : 1;
  }
  return ka.length - kb.length;
}

function select(all: readonly SeriesDef[], name: string, matchers: Labels): SeriesDef[] {
  return all
    .filter((s) => s.name === name && Object.entries(matchers).every(([k, v]) => s.labels[k] === v))
    .sort((a, b) => compareLabels(a.labels, b.labels));
}

/** extrapolatedRate(…, isCounter=true, isRate=true); undefined when fewer than 2 samples. */
function promRate(points: readonly Sample[], evalMs: number, rangeMs: number): number | undefined {
  const first = points[0];
  const last = points[points.length - 1];
  if (points.length < 2 || first === undefined || last === undefined) return undefined;
  const rangeStart = evalMs - rangeMs;
  let result = last.v - first.v;
  let prev = first.v;
  for (const p of points.slice(1)) {
    if (p.v < prev) result += prev; // counter reset
    prev = p.v;
  }
  let durationToStart = (first.t - rangeStart) / 1000;
  const durationToEnd = (evalMs - last.t) / 1000;
  const sampledInterval = (last.t - first.t) / 1000;
  const averageDurationBetweenSamples = sampledInterval / (points.length - 1);
  if (result > 0 && first.v >= 0) {
    const durationToZero = sampledInterval * (first.v / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageDurationBetweenSamples * 1.1;
  let extrapolateToInterval = sampledInterval;
  extrapolateToInterval += durationToStart < threshold ? durationToStart : averageDurationBetweenSamples / 2;
  extrapolateToInterval += durationToEnd < threshold ? durationToEnd : averageDurationBetweenSamples / 2;
  let factor = extrapolateToInterval / sampledInterval;
  factor /= rangeMs / 1000;
  return result * factor;
}

function kahanSumInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

/** avg/max/min_over_time over the points (non-empty). */
function overTime(agg: PromAggregate, values: readonly number[]): number {
  if (agg === "avg") {
    let mean = 0;
    let count = 0;
    let c = 0;
    for (const v of values) {
      count++;
      if (isInfinite(mean)) {
        if (isInfinite(v) && mean > 0 === v > 0) continue;
        if (!isInfinite(v) && !Number.isNaN(v)) continue;
      }
      [mean, c] = kahanSumInc(v / count - mean / count, mean, c);
    }
    return isInfinite(mean) ? mean : mean + c;
  }
  let acc = values[0] ?? Number.NaN;
  for (const v of values) {
    if (agg === "max" ? v > acc : v < acc) acc = v;
    else if (Number.isNaN(acc)) acc = v;
  }
  return acc;
}

/** `avg|max|min by (…)` over the values of ONE group, in series order. */
function acrossSeries(agg: PromAggregate, values: readonly number[]): number {
  let value = values[0] ?? Number.NaN;
  let mean = value;
  let count = 1;
  for (const v of values.slice(1)) {
    if (agg === "avg") {
      count++;
      if (isInfinite(mean)) {
        if (isInfinite(v) && mean > 0 === v > 0) continue;
        if (!isInfinite(v) && !Number.isNaN(v)) continue;
      }
      mean += v / count - mean / count;
    } else if (agg === "max") {
      if (value < v || Number.isNaN(value)) value = v;
    } else if (value > v || Number.isNaN(value)) {
      value = v;
    }
  }
  return agg === "avg" ? mean : value;
}

function isInfinite(v: number): boolean {
  return v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY;
}

function toEvalMs(evalTimeSec: number): number {
  // The API reports evaluation times in seconds with millisecond precision.
  return Math.round(evalTimeSec * 1000);
}

function rangeValues(
  series: readonly SeriesDef[],
  window: SampleWindow,
  evalMs: number,
  periodSec: number,
): { series: SeriesDef; points: Sample[] }[] {
  const fromMs = evalMs - periodSec * 1000;
  return series
    .map((s) => ({ series: s, points: samplesIn(s, window, fromMs, evalMs) }))
    .filter((r) => r.points.length > 0);
}

/**
 * Every element of the instant vector Prometheus 2.42 returns for {@link watcherPromQL}(query)
 * evaluated at `evalTimeSec` (seconds, millisecond precision: use the timestamp of the returned
 * sample) over data rendered from the same fleet and window. Values are bit-exact, NaN included.
 * Order: by label set, which is the order Prometheus's storage yields series in.
 */
export function expectedSamples(
  fleet: Fleet,
  window: SampleWindow,
  query: FleetQuery,
  evalTimeSec: number,
): ExpectedSample[] {
  checkPeriod(query.periodSec);
  const all = fleetSeries(fleet, window);
  const evalMs = toEvalMs(evalTimeSec);
  const rangeMs = query.periodSec * 1000;
  switch (query.metric) {
    case "host_cpu_usage": {
      const idle = select(all, "node_cpu_seconds_total", { mode: "idle", [fleet.hostLabel]: query.host });
      const rates = rangeValues(idle, window, evalMs, query.periodSec)
        .map((r) => promRate(r.points, evalMs, rangeMs))
        .filter((v): v is number => v !== undefined);
      if (rates.length === 0) return [];
      return [
        {
          labels: { [fleet.hostLabel]: query.host },
          value: 100 - acrossSeries(query.aggregate, rates) * 100,
        },
      ];
    }
    case "host_ram_usage": {
      const matcher = { [fleet.hostLabel]: query.host };
      const available = rangeValues(
        select(all, "node_memory_MemAvailable_bytes", matcher),
        window,
        evalMs,
        query.periodSec,
      );
      const out: ExpectedSample[] = [];
      for (const total of select(all, "node_memory_MemTotal_bytes", matcher)) {
        // Instant selector: the newest sample at or before t, at most 5 minutes old.
        const latest = samplesIn(total, window, evalMs - LOOKBACK_DELTA_MS, evalMs).at(-1);
        // One-to-one matching on all labels but the metric name.
        const rhs = available.find((a) => compareLabels(a.series.labels, total.labels) === 0);
        if (latest === undefined || rhs === undefined) continue;
        const over = overTime(
          query.aggregate,
          rhs.points.map((p) => p.v),
        );
        out.push({ labels: total.labels, value: (latest.v - over) / 1024 });
      }
      return out;
    }
    case "instance_cpu_usage": {
      const series = select(all, "ceilometer_cpu", { [fleet.instanceLabel]: query.uuid });
      const rates = rangeValues(series, window, evalMs, query.periodSec)
        .map((r) => promRate(r.points, evalMs, rangeMs))
        .filter((v): v is number => v !== undefined);
      if (rates.length === 0) return [];
      const cores = acrossSeries(query.aggregate, rates) / 1e9;
      return [
        {
          labels: { [fleet.instanceLabel]: query.uuid },
          value: Math.min(100, cores * (100 / query.vcpus)),
        },
      ];
    }
    case "instance_ram_usage": {
      const series = select(all, "ceilometer_memory_usage", { [fleet.instanceLabel]: query.uuid });
      return rangeValues(series, window, evalMs, query.periodSec).map((r) => ({
        labels: r.series.labels,
        value: overTime(
          query.aggregate,
          r.points.map((p) => p.v),
        ),
      }));
    }
  }
}

/**
 * The value Prometheus 2.42 returns for {@link watcherPromQL}(query) at `evalTimeSec` (see
 * {@link expectedSamples}): the first element in label order, or undefined for an empty result.
 * Only vm-b's RAM usage has two elements; Prometheus 2.42 returns them in label order as well
 * (publisher `ceilometer` first; verified), so "first" is what Watcher's `result[0]` picks.
 */
export function expectedValue(
  fleet: Fleet,
  window: SampleWindow,
  query: FleetQuery,
  evalTimeSec: number,
): number | undefined {
  return expectedSamples(fleet, window, query, evalTimeSec)[0]?.value;
}

function checkPeriod(periodSec: number): void {
  if (!Number.isSafeInteger(periodSec) || periodSec <= 0) throw new Error(`bad period ${periodSec}`);
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function nominalOf(agg: PromAggregate, values: readonly number[]): number {
  if (values.some(Number.isNaN)) return Number.NaN;
  if (agg === "avg") return mean(values);
  return agg === "max" ? Math.max(...values) : Math.min(...values);
}

/**
 * The ideal value of `query` whenever the evaluation time is not exactly on the sample grid and its
 * window lies inside the data: what a test that cannot know the evaluation time (a query at "now"
 * through the service) should expect. Prometheus's answer matches it up to float rounding (a few
 * ulps; compare with a relative tolerance such as 1e-9) except host CPU of compute-3, which is
 * exactly 0. For vm-b's RAM usage it is the first series in label order (publisher `ceilometer`).
 * Throws when the period does not span whole periods of a gauge pattern, since the answer would
 * then depend on the evaluation time.
 */
export function nominalValue(fleet: Fleet, query: FleetQuery, stepSec = 30): number {
  checkPeriod(query.periodSec);
  const samplesPerWindow = query.periodSec / stepSec;
  const wholePeriods = (values: readonly number[]): readonly number[] => {
    if (!Number.isInteger(samplesPerWindow) || samplesPerWindow % values.length !== 0) {
      throw new Error(`period ${query.periodSec}s is not a whole number of ${values.length}-sample periods`);
    }
    return values;
  };
  switch (query.metric) {
    case "host_cpu_usage":
    case "host_ram_usage": {
      const host = fleet.hosts.find((h) => h.fqdn === query.host);
      if (host === undefined) throw new Error(`no fleet host ${query.host}`);
      if (query.metric === "host_cpu_usage") return 100 - nominalOf(query.aggregate, host.cpuIdle) * 100;
      const available = nominalOf(query.aggregate, wholePeriods(host.memAvailableBytes));
      return (host.memTotalBytes - available) / 1024;
    }
    case "instance_cpu_usage":
    case "instance_ram_usage": {
      const vm = fleet.vms.find((v) => v.uuid === query.uuid);
      if (vm === undefined) throw new Error(`no fleet VM ${query.uuid}`);
      if (query.metric === "instance_cpu_usage") {
        const cores = nominalOf(
          query.aggregate,
          vm.cpu.map((c) => c.cores),
        );
        return Math.min(100, (cores * 100) / query.vcpus);
      }
      const first = [...vm.memoryUsage].sort((a, b) => (a.publisher < b.publisher ? -1 : 1))[0];
      if (first === undefined) throw new Error(`VM ${vm.name} has no memory usage series`);
      return nominalOf(query.aggregate, wholePeriods(first.usageMb));
    }
  }
}
