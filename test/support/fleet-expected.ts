/**
 * The exact values a real Prometheus 2.42 answers for the Watcher queries (fleet-promql.ts) over the
 * sample fleet's data (fleet-series.ts), found by repeating Prometheus's own arithmetic, plus the
 * ideal values a query at "now" should come close to. Pure functions.
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
import type { Fleet, SampleWindow } from "./fleet.js";
import type { FleetQuery, PromAggregate } from "./fleet-promql.js";
import { fleetSeries, type Labels, type Sample, type SeriesDef, samplesIn } from "./fleet-series.js";

/** One element of the instant vector Prometheus returns. */
export interface ExpectedSample {
  /** The result's labels (no `__name__`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
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
 * Every element of the instant vector Prometheus 2.42 returns for `watcherPromQL(query)`
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
 * The value Prometheus 2.42 returns for `watcherPromQL(query)` at `evalTimeSec` (see
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

/**
 * What Prometheus 2.42 answers for `<agg>_over_time(<series>{<matchers>}[<period>s])` at
 * `evalTimeSec` (optionally divided by `divisor`): the first element in label order, or undefined
 * for an empty result. The sources of the metrics Watcher's Prometheus datasource lacks are all of
 * this shape, and so is an override that reads the libvirt exporter's memory in bytes.
 */
export function expectedOverTime(
  fleet: Fleet,
  window: SampleWindow,
  query: { series: string; matchers: Labels; aggregate: PromAggregate; periodSec: number; divisor?: number },
  evalTimeSec: number,
): number | undefined {
  checkPeriod(query.periodSec);
  const selected = select(fleetSeries(fleet, window), query.series, query.matchers);
  const [first] = rangeValues(selected, window, toEvalMs(evalTimeSec), query.periodSec);
  if (first === undefined) return undefined;
  const value = overTime(
    query.aggregate,
    first.points.map((p) => p.v),
  );
  return query.divisor === undefined ? value : value / query.divisor;
}

/**
 * What Prometheus 2.42 answers for an instance CPU query over a counter of CPU time:
 * `clamp_max((<agg> by (…)(rate(<series>{<matchers>}[<period>s]))/<divisor>) *(100/<vcpus>), 100)`,
 * divisor 1e9 for Ceilometer's nanoseconds and 1 for the libvirt exporter's seconds.
 */
export function expectedCpuPercent(
  fleet: Fleet,
  window: SampleWindow,
  query: {
    series: string;
    matchers: Labels;
    aggregate: PromAggregate;
    periodSec: number;
    vcpus: number;
    divisor: number;
  },
  evalTimeSec: number,
): number | undefined {
  checkPeriod(query.periodSec);
  const evalMs = toEvalMs(evalTimeSec);
  const selected = select(fleetSeries(fleet, window), query.series, query.matchers);
  const rates = rangeValues(selected, window, evalMs, query.periodSec)
    .map((r) => promRate(r.points, evalMs, query.periodSec * 1000))
    .filter((v): v is number => v !== undefined);
  if (rates.length === 0) return undefined;
  const cores =
    query.divisor === 1
      ? acrossSeries(query.aggregate, rates)
      : acrossSeries(query.aggregate, rates) / query.divisor;
  return Math.min(100, cores * (100 / query.vcpus));
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
