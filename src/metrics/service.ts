import type { CallOptions, Datasource, Sample } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { METRICS, type MetricDefinition, type MetricName, type Subject, type Unit } from "./catalogue.js";
import type { HostDirectory, HostEntry } from "./hosts.js";
import { type PromqlAggregate, renderTemplate } from "./promql.js";

export type Aggregate = "mean" | "max" | "min" | "count";

export interface HostMetricQuery {
  readonly host: string;
  readonly metric: MetricName;
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
}

export interface InstanceMetricQuery {
  readonly instanceId: string;
  readonly metric: MetricName;
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
  /** 0 means unknown; Watcher assumes 1. */
  readonly vcpus: number;
}

export interface MetricAnswer {
  /** Undefined when Prometheus has no data (an empty vector, or NaN). */
  readonly value: number | undefined;
  readonly unit: Unit;
  readonly labelValue: string;
  /** Unix milliseconds. */
  readonly evaluationTime: number;
  readonly query: string;
  readonly seriesCount: number;
}

export interface HostPage {
  readonly hosts: readonly HostEntry[];
  /** The label value to continue after; undefined on the last page. */
  readonly nextAfter: string | undefined;
}

const AGGREGATES: Record<Aggregate, PromqlAggregate> = { mean: "avg", max: "max", min: "min", count: "avg" };
const INVERTED: Record<PromqlAggregate, PromqlAggregate> = { avg: "avg", max: "min", min: "max" };

/** The use cases: resolve the subject, build Watcher's query, run it, shape the answer. */
export class MetricsService {
  readonly #datasource: Datasource;
  readonly #hosts: HostDirectory;
  readonly #now: () => number;

  constructor(datasource: Datasource, hosts: HostDirectory, now: () => number = Date.now) {
    this.#datasource = datasource;
    this.#hosts = hosts;
    this.#now = now;
  }

  async hostMetric(query: HostMetricQuery, options: CallOptions = {}): Promise<MetricAnswer> {
    const source = sourceOf(query.metric, "host");
    const labelValue = await this.#hosts.resolve(query.host, options);
    let agg = AGGREGATES[query.aggregate];
    if (source.invertMinMax) agg = INVERTED[agg];
    const promql = renderTemplate(source.template, {
      agg,
      label: this.#datasource.labels.fqdn,
      value: labelValue,
      period: query.periodSeconds,
    });
    return await this.#run(promql, source.unit, labelValue, options);
  }

  async instanceMetric(query: InstanceMetricQuery, options: CallOptions = {}): Promise<MetricAnswer> {
    const source = sourceOf(query.metric, "instance");
    const promql = renderTemplate(source.template, {
      agg: AGGREGATES[query.aggregate],
      label: this.#datasource.labels.instanceUuid,
      value: query.instanceId,
      period: query.periodSeconds,
      vcpus: query.vcpus > 0 ? query.vcpus : 1,
    });
    return await this.#run(promql, source.unit, query.instanceId, options);
  }

  /** Hosts sorted by label value, `pageSize` at a time, continuing after the label value `after`. */
  async listHosts(pageSize: number, after: string | undefined, options: CallOptions = {}): Promise<HostPage> {
    const all = await this.#hosts.list(options);
    const start = after === undefined ? 0 : all.findIndex((h) => h.labelValue > after);
    const hosts = start < 0 ? [] : all.slice(start, start + pageSize);
    const last = hosts.at(-1);
    const more = start >= 0 && start + pageSize < all.length;
    return { hosts, nextAfter: more && last ? last.labelValue : undefined };
  }

  async #run(promql: string, unit: Unit, labelValue: string, options: CallOptions): Promise<MetricAnswer> {
    const askedAt = this.#now();
    const samples = await this.#datasource.instantQuery(promql, options);
    const chosen = firstByLabels(samples);
    return {
      value: chosen === undefined ? undefined : parseSampleValue(chosen.value),
      unit,
      labelValue,
      evaluationTime: chosen === undefined ? askedAt : Math.round(chosen.timestamp * 1000),
      query: promql,
      seriesCount: samples.length,
    };
  }
}

/** A metric that has a Prometheus source: its template, unit and inversion rule. */
interface MetricSource {
  readonly template: string;
  readonly unit: Unit;
  readonly invertMinMax: boolean;
}

function sourceOf(metric: MetricName, subject: Subject): MetricSource {
  const definition: MetricDefinition = METRICS[metric];
  if (definition.subject !== subject) {
    throw new MetricsAccessError("invalid_argument", `metric: ${metric} is not a ${subject} metric`, {
      reason: "INVALID_FIELD",
      field: "metric",
    });
  }
  if (definition.template === undefined || definition.unit === undefined) {
    throw new MetricsAccessError(
      "failed_precondition",
      `metric ${metric} ${definition.unavailable ?? "has no source"}`,
      {
        reason: "METRIC_NOT_AVAILABLE",
      },
    );
  }
  return { template: definition.template, unit: definition.unit, invertMinMax: definition.invertMinMax };
}

/**
 * Watcher takes result[0] in whatever order Prometheus sends; we take the series whose label set
 * sorts first, so the same data always gives the same answer.
 */
export function firstByLabels(samples: readonly Sample[]): Sample | undefined {
  let best: Sample | undefined;
  let bestKey: [string, string][] = [];
  for (const sample of samples) {
    const key = sortedPairs(sample.labels);
    if (best === undefined || compareLabelSets(key, bestKey) < 0) {
      best = sample;
      bestKey = key;
    }
  }
  return best;
}

function sortedPairs(labels: Readonly<Record<string, string>>): [string, string][] {
  return Object.keys(labels)
    .sort()
    .map((name) => [name, labels[name] ?? ""]);
}

/** Prometheus's order of label sets: pair by pair, name then value; a prefix sorts first. */
function compareLabelSets(a: readonly [string, string][], b: readonly [string, string][]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [an, av] = a[i] ?? ["", ""];
    const [bn, bv] = b[i] ?? ["", ""];
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return a.length - b.length;
}

/** Prometheus's sample strings: decimals, "+Inf", "-Inf", "NaN". NaN is "no data". */
export function parseSampleValue(text: string): number | undefined {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  return Number.isNaN(value) || text.trim() === "" ? undefined : value;
}
