/**
 * The four Watcher queries over the sample fleet (fleet.ts), and the PromQL Watcher sends for each.
 */
import type { Fleet } from "./fleet.js";

/** The PromQL aggregate actually run (after any max/min swap done by the caller). */
export type PromAggregate = "avg" | "max" | "min";

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
