/** Watcher's eleven metric names by subject, in Watcher's order (its METRIC_MAP). */
export const WATCHER_HOST_METRICS: readonly string[] = [
  "host_cpu_usage",
  "host_ram_usage",
  "host_outlet_temp",
  "host_inlet_temp",
  "host_airflow",
  "host_power",
];

export const WATCHER_INSTANCE_METRICS: readonly string[] = [
  "instance_cpu_usage",
  "instance_ram_usage",
  "instance_ram_allocated",
  "instance_l3_cache_usage",
  "instance_root_disk_size",
];
