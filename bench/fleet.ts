/**
 * The benchmark's large fleet: 1,000 hosts and 5,000 instances, built from the test support's Fleet
 * types so that startPrometheus (test/support/prometheus.ts) backfills it like the sample fleet.
 *
 * Series counts are kept modest because promtool's backfill time grows with samples: per host 2 CPUs
 * (6 node_cpu_seconds_total series) and the two memory gauges, no IPMI; per instance one
 * ceilometer_cpu and one ceilometer_memory_usage series, plus the three per-VM gauges fleet-series.ts
 * always writes (memory, vcpus, disk.root.size). No L3 cache, no libvirt exporter series.
 */
import type { Fleet, FleetHost, FleetVm } from "../test/support/fleet.js";

export interface BenchFleetOptions {
  readonly hosts: number;
  readonly vms: number;
}

const GiB = 2 ** 30;
const PROJECT = "0123456789abcdef0123456789abcdef";
const USER = "fedcba9876543210fedcba9876543210";
// Dyadic fractions keep the counters' arithmetic exact (see fleet.ts); the mix gives varied usage.
const IDLE = [0.25, 0.375, 0.5, 0.625, 0.75, 0.875] as const;
// A realistic mix of flavours: the batch then runs one query per distinct vCPU count, as it must.
const VCPUS = [1, 2, 4, 8] as const;

export function hostName(i: number): string {
  return `compute-${String(i + 1).padStart(4, "0")}.bench.example`;
}

export function vmUuid(i: number): string {
  return `00000000-0000-4000-8000-${(i + 1).toString(16).padStart(12, "0")}`;
}

export function vmVcpus(i: number): number {
  return VCPUS[i % VCPUS.length] ?? 1;
}

export function createBenchFleet(options: BenchFleetOptions): Fleet {
  const hosts: FleetHost[] = Array.from({ length: options.hosts }, (_, i) => ({
    fqdn: hostName(i),
    instance: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9100`,
    cpuIdle: [IDLE[i % IDLE.length] ?? 0.5, IDLE[(i + 3) % IDLE.length] ?? 0.5],
    memTotalBytes: 256 * GiB,
    memAvailableBytes: [(64 + (i % 128)) * GiB, (72 + (i % 128)) * GiB],
    role: "bench host",
  }));
  const vms: FleetVm[] = Array.from({ length: options.vms }, (_, i) => {
    const vcpus = vmVcpus(i);
    return {
      uuid: vmUuid(i),
      name: `vm-${String(i + 1).padStart(5, "0")}`,
      host: hostName(i % options.hosts),
      vcpus,
      memoryMb: vcpus * 2048,
      project: PROJECT,
      user: USER,
      cpu: [{ publisher: "ceilometer", cores: (vcpus * ((i % 8) + 1)) / 8 }],
      memoryUsage: [{ publisher: "ceilometer", usageMb: [vcpus * 1024, vcpus * 1536] }],
      rootDiskGb: 20,
      l3CacheBytes: [],
      role: "bench instance",
    };
  });
  return {
    hostLabel: "fqdn",
    instanceLabel: "resource",
    nodeJob: "node",
    ceilometerJob: "sg-core",
    ceilometerInstance: "10.255.0.100:3000",
    libvirtJob: "libvirt",
    libvirtInstance: "10.255.0.1:9177",
    hosts,
    vms,
  };
}
