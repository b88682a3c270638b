/**
 * A deterministic sample fleet for a real Prometheus 2.42: its hosts and VMs, the label names its
 * series carry, and the window of samples rendered for it. Pure data and functions: no I/O, no test
 * framework, so a long-running demo process can use it as well as the tests. Built on it:
 * - fleet-series.ts: every series of the fleet, sampled on the window's grid (the single source);
 * - fleet-openmetrics.ts: those samples as the OpenMetrics text promtool backfills;
 * - fleet-promql.ts: the four Watcher queries as PromQL;
 * - fleet-expected.ts: the exact values Prometheus must answer for them.
 *
 * How the numbers are made exact:
 * - Every sample sits on an absolute time grid (multiples of the step since the epoch), and a gauge's
 *   value depends only on its grid index, so two renders of the same window are byte-identical.
 * - Gauges repeat a short pattern whose length divides 10. A window of 300 s or 600 s at a 30 s step
 *   that does not start exactly on a grid point holds exactly 10 or 20 samples, i.e. whole pattern
 *   periods, so avg/max/min_over_time do not depend on when the query runs (see `nominalValue`).
 * - Counters are linear, so rate() is their slope up to float rounding; `expectedValue` repeats
 *   Prometheus 2.42's own float arithmetic and therefore predicts the answer bit for bit.
 */

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
  /** Ceilometer's IPMI (Intel Node Manager) meters for the host; absent for hosts without a BMC reading. */
  readonly ipmi?: FleetIpmi;
  /** Why this host is in the fleet. */
  readonly role: string;
}

/**
 * Gauges Ceilometer's IPMI agent publishes for a host through sg-core, as patterns repeated along the
 * sample grid (lengths divide 10): hardware.ipmi.node.power (W), .temperature (inlet, C),
 * .outlet_temperature (C) and .airflow (CFM).
 */
export interface FleetIpmi {
  readonly powerW: readonly number[];
  readonly inletC: readonly number[];
  readonly outletC: readonly number[];
  readonly airflowCfm: readonly number[];
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
  /** Ceilometer disk.root.size, GB. */
  readonly rootDiskGb: number;
  /** Ceilometer cpu_l3_cache (libvirt perf), bytes, a pattern along the sample grid; empty: no series. */
  readonly l3CacheBytes: readonly number[];
  /**
   * The libvirt domain name when the libvirt exporter (Debian's prometheus-libvirt-exporter 0.2.0)
   * also reports the VM: its CPU time and memory series then carry the same data as the VM's first
   * Ceilometer series, in the exporter's units (seconds, bytes).
   */
  readonly libvirtDomain?: string;
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
  /** `job` and `instance` labels of the libvirt exporter's series. */
  readonly libvirtJob: string;
  readonly libvirtInstance: string;
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
  "hardware",
  "disk",
  "memory",
  "domain",
  "uuid",
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
    libvirtJob: "libvirt",
    libvirtInstance: "10.0.0.1:9177",
    hosts: [
      {
        fqdn: "compute-1.example",
        instance: "10.0.0.1:9100",
        cpuIdle: [0.75, 0.5, 0.875, 0.625],
        memTotalBytes: 16 * GiB,
        memAvailableBytes: mib([6144, 6400, 6656, 6272, 6528, 6784, 7040, 6912, 7168, 6656]),
        ipmi: {
          powerW: [240, 256, 272, 248, 264],
          inletC: [22, 23],
          outletC: [35, 37, 36, 38, 39],
          airflowCfm: [40],
        },
        role: "4 CPUs with different idle fractions; MemAvailable varies with a 10-sample period",
      },
      {
        fqdn: "compute-2.example",
        instance: "10.0.0.2:9100",
        cpuIdle: [0.25, 0.375],
        memTotalBytes: 32 * GiB,
        memAvailableBytes: mib([6144, 5120, 4096, 5632, 4608]),
        ipmi: { powerW: [410, 430], inletC: [24], outletC: [44, 46], airflowCfm: [52, 56, 48, 60, 64] },
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
        ipmi: { powerW: [120], inletC: [21, 22], outletC: [30], airflowCfm: [18, 22] },
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
        rootDiskGb: 20,
        l3CacheBytes: [1_048_576, 2_097_152],
        libvirtDomain: "instance-00000001",
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
        rootDiskGb: 40,
        l3CacheBytes: [4_194_304],
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
        rootDiskGb: 10,
        l3CacheBytes: [524_288, 786_432, 1_048_576, 262_144, 655_360],
        libvirtDomain: "instance-00000003",
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
        rootDiskGb: 0,
        l3CacheBytes: [],
        libvirtDomain: "instance-00000004",
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

/** What a test backend (Prometheus, VictoriaMetrics) holds: the fleet, its window, and a node exporter. */
export interface FleetBackendOptions extends FleetWindowOptions {
  /** Default {@link SAMPLE_FLEET}. */
  readonly fleet?: Fleet;
  /** Time origin in seconds; default now, rounded down to the step. */
  readonly originSec?: number;
  /** Start and scrape a real node exporter, default true. */
  readonly nodeExporter?: boolean;
  /** Host label value of the node exporter target, default `node-exporter.local.example`. */
  readonly nodeExporterFqdn?: string;
}

/** {@link FleetBackendOptions} with their defaults applied. */
export interface FleetBackendPlan {
  readonly fleet: Fleet;
  readonly startSec: number;
  readonly window: SampleWindow;
  /** Undefined when no node exporter is wanted. */
  readonly nodeExporterFqdn: string | undefined;
}

export function fleetBackendPlan(options: FleetBackendOptions): FleetBackendPlan {
  const stepSec = options.stepSec ?? 30;
  const startSec = options.originSec ?? Math.floor(Date.now() / 1000 / stepSec) * stepSec;
  return {
    fleet: options.fleet ?? SAMPLE_FLEET,
    startSec,
    window: fleetWindow(startSec, options),
    nodeExporterFqdn:
      options.nodeExporter === false
        ? undefined
        : (options.nodeExporterFqdn ?? "node-exporter.local.example"),
  };
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

/** Throws unless the window is whole seconds with a positive step and a start before its end. */
export function checkWindow(window: SampleWindow): void {
  const { startSec, endSec, stepSec } = window;
  if (![startSec, endSec, stepSec].every(Number.isSafeInteger) || stepSec <= 0 || endSec <= startSec) {
    throw new Error(`bad sample window ${JSON.stringify(window)}: whole seconds, step > 0, start < end`);
  }
}
