/**
 * Every series of the sample fleet (fleet.ts), sampled on a window's absolute time grid: the single
 * source for both the OpenMetrics text (fleet-openmetrics.ts) and the expected values
 * (fleet-expected.ts). Pure functions.
 */
import type { Fleet, FleetHost, FleetIpmi, FleetVm, SampleWindow } from "./fleet.js";

export type Labels = Readonly<Record<string, string>>;

export interface SeriesDef {
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

export interface Sample {
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

export function fleetSeries(fleet: Fleet, window: SampleWindow): SeriesDef[] {
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
  const ipmiMeters = [
    ["power", "W", (i: FleetIpmi) => i.powerW],
    ["temperature", "C", (i: FleetIpmi) => i.inletC],
    ["outlet_temperature", "C", (i: FleetIpmi) => i.outletC],
    ["airflow", "CFM", (i: FleetIpmi) => i.airflowCfm],
  ] as const;
  // Ceilometer's IPMI agent on each compute node, published through sg-core: sg-core's labels
  // (resource is the host, as Ceilometer's node meters set it) plus the host label the scrape adds.
  for (const [meter, unit, values] of ipmiMeters) {
    for (const h of fleet.hosts) {
      if (h.ipmi === undefined) continue;
      const name = `ceilometer_hardware_ipmi_node_${meter}`;
      out.push({
        family: name,
        type: "gauge",
        name,
        labels: {
          counter: `hardware.ipmi.node.${meter}`,
          [fleet.hostLabel]: h.fqdn,
          hardware: "node",
          instance: fleet.ceilometerInstance,
          job: fleet.ceilometerJob,
          publisher: h.fqdn,
          resource: h.fqdn,
          type: "ipmi",
          unit,
        },
        stepSec: step,
        valueAt: pattern(values(h.ipmi)),
      });
    }
  }
  for (const vm of fleet.vms) {
    out.push({
      family: "ceilometer_disk_root_size",
      type: "gauge",
      name: "ceilometer_disk_root_size",
      labels: { ...vmLabels(vm, "ceilometer", "disk.root.size", "root", "GB"), disk: "size" },
      stepSec: step,
      valueAt: () => vm.rootDiskGb,
    });
  }
  for (const vm of fleet.vms) {
    if (vm.l3CacheBytes.length === 0) continue;
    out.push({
      family: "ceilometer_cpu_l3_cache",
      type: "gauge",
      name: "ceilometer_cpu_l3_cache",
      labels: vmLabels(vm, "ceilometer", "cpu_l3_cache", "gauge", "B"),
      stepSec: step,
      valueAt: pattern(vm.l3CacheBytes),
    });
  }
  // Debian's prometheus-libvirt-exporter 0.2.0 (kumina/libvirt_exporter): labels domain and uuid,
  // CPU time in seconds, memory in bytes; the same data as the VM's first Ceilometer series.
  for (const vm of fleet.vms) {
    const [cpu] = vm.cpu;
    const [memory] = vm.memoryUsage;
    if (vm.libvirtDomain === undefined || cpu === undefined || memory === undefined) continue;
    const labels = {
      domain: vm.libvirtDomain,
      instance: fleet.libvirtInstance,
      job: fleet.libvirtJob,
      uuid: vm.uuid,
    };
    out.push({
      family: "libvirt_domain_info_cpu_time_seconds",
      type: "counter",
      name: "libvirt_domain_info_cpu_time_seconds_total",
      labels,
      stepSec: step,
      valueAt: linear(CEILOMETER_CPU_BASE_NS / 1e9, cpu.cores),
    });
    out.push({
      family: "libvirt_domain_info_memory_usage_bytes",
      type: "gauge",
      name: "libvirt_domain_info_memory_usage_bytes",
      labels,
      stepSec: step,
      valueAt: pattern(memory.usageMb.map((mb) => mb * 2 ** 20)),
    });
  }
  return out;
}

/** Grid indices k (sample at k*step seconds) inside the window and inside [fromMs, toMs]. */
export function gridRange(
  stepSec: number,
  window: SampleWindow,
  fromMs: number,
  toMs: number,
): [number, number] {
  const stepMs = stepSec * 1000;
  const first = Math.max(Math.ceil(window.startSec / stepSec), Math.ceil(fromMs / stepMs));
  const last = Math.min(Math.floor(window.endSec / stepSec), Math.floor(toMs / stepMs));
  return [first, last];
}

export function samplesIn(series: SeriesDef, window: SampleWindow, fromMs: number, toMs: number): Sample[] {
  const [first, last] = gridRange(series.stepSec, window, fromMs, toMs);
  const out: Sample[] = [];
  for (let k = first; k <= last; k++) {
    const tSec = k * series.stepSec;
    out.push({ t: tSec * 1000, v: series.valueAt(tSec, k) });
  }
  return out;
}
