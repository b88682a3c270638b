import type { CallOptions, Datasource, Sample } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { type Catalogue, type MetricDefinition, SUBJECT_PHRASE, type Subject } from "./catalogue.js";
import type { HostDirectory, HostEntry } from "./hosts.js";
import { type PromqlAggregate, renderTemplate } from "./promql.js";
import type { SeriesNames } from "./series-names.js";

export type Aggregate = "mean" | "max" | "min" | "count";

export interface HostMetricQuery {
  readonly host: string;
  readonly metric: string;
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
}

export interface InstanceMetricQuery {
  readonly instanceId: string;
  readonly metric: string;
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
  /** 0 means unknown; Watcher assumes 1. */
  readonly vcpus: number;
}

export interface MetricAnswer {
  readonly metric: string;
  /** Undefined when Prometheus has no data (an empty vector, or NaN). */
  readonly value: number | undefined;
  readonly unit: string;
  readonly labelName: string;
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

/** A catalogue entry as this backend sees it. */
export interface MetricStatus {
  readonly definition: MetricDefinition;
  /** The label that selects the resource: the metric's own, or the datasource section's. */
  readonly labelName: string;
  /**
   * The series the metric reads that the backend does not hold; empty when it can serve it;
   * undefined when the backend shows only part of its series and it cannot be told.
   */
  readonly missingSeries: readonly string[] | undefined;
}

export interface MetricsServiceParts {
  readonly datasource: Datasource;
  readonly hosts: HostDirectory;
  readonly catalogue: Catalogue;
  readonly seriesNames: SeriesNames;
  readonly now?: () => number;
}

const AGGREGATES: Record<Aggregate, PromqlAggregate> = { mean: "avg", max: "max", min: "min", count: "avg" };
const INVERTED: Record<PromqlAggregate, PromqlAggregate> = { avg: "avg", max: "min", min: "max" };

/** The use cases: resolve the subject, build the metric's query, run it, shape the answer. */
export class MetricsService {
  readonly #datasource: Datasource;
  readonly #hosts: HostDirectory;
  readonly #catalogue: Catalogue;
  readonly #seriesNames: SeriesNames;
  readonly #now: () => number;

  constructor(parts: MetricsServiceParts) {
    this.#datasource = parts.datasource;
    this.#hosts = parts.hosts;
    this.#catalogue = parts.catalogue;
    this.#seriesNames = parts.seriesNames;
    this.#now = parts.now ?? Date.now;
  }

  async hostMetric(query: HostMetricQuery, options: CallOptions = {}): Promise<MetricAnswer> {
    const definition = this.#definition(query.metric, "host");
    const labelValue = await this.#hosts.resolve(query.host, options);
    let agg = AGGREGATES[query.aggregate];
    if (definition.invertMinMax) agg = INVERTED[agg];
    const label = this.#labelOf(definition);
    const promql = renderTemplate(definition.template, {
      agg,
      label,
      value: labelValue,
      period: query.periodSeconds,
    });
    return await this.#run(definition, promql, label, labelValue, options);
  }

  async instanceMetric(query: InstanceMetricQuery, options: CallOptions = {}): Promise<MetricAnswer> {
    const definition = this.#definition(query.metric, "instance");
    const label = this.#labelOf(definition);
    const promql = renderTemplate(definition.template, {
      agg: AGGREGATES[query.aggregate],
      label,
      value: query.instanceId,
      period: query.periodSeconds,
      vcpus: query.vcpus > 0 ? query.vcpus : 1,
    });
    return await this.#run(definition, promql, label, query.instanceId, options);
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

  /** The catalogue, or one subject of it, with what this backend can serve now. */
  async listMetrics(subject: Subject | undefined, options: CallOptions = {}): Promise<MetricStatus[]> {
    const definitions = this.#catalogue.list(subject);
    const statuses: MetricStatus[] = [];
    for (const definition of definitions) {
      statuses.push({
        definition,
        labelName: this.#labelOf(definition),
        missingSeries: await this.#seriesNames.missing(definition.series, options),
      });
    }
    return statuses;
  }

  #definition(metric: string, subject: Subject): MetricDefinition {
    const definition = this.#catalogue.get(metric);
    if (definition?.subject === subject) return definition;
    const known = this.#catalogue
      .list(subject)
      .map((d) => d.name)
      .join(", ");
    const what =
      definition === undefined
        ? `unknown ${subject} metric ${JSON.stringify(metric)}`
        : `${metric} is ${SUBJECT_PHRASE[definition.subject]}, not ${SUBJECT_PHRASE[subject]}`;
    throw new MetricsAccessError(
      "invalid_argument",
      `metric: ${what}; the ${subject} metrics are: ${known}`,
      {
        reason: "UNKNOWN_METRIC",
        field: "metric",
      },
    );
  }

  #labelOf(definition: MetricDefinition): string {
    const labels = this.#datasource.labels;
    return definition.label ?? (definition.subject === "host" ? labels.fqdn : labels.instanceUuid);
  }

  async #run(
    definition: MetricDefinition,
    promql: string,
    labelName: string,
    labelValue: string,
    options: CallOptions,
  ): Promise<MetricAnswer> {
    const askedAt = this.#now();
    const samples = await this.#datasource.instantQuery(promql, options);
    if (samples.length === 0) await this.#requireSeries(definition, options);
    const chosen = firstByLabels(samples);
    return {
      metric: definition.name,
      value: chosen === undefined ? undefined : parseSampleValue(chosen.value),
      unit: definition.unit,
      labelName,
      labelValue,
      evaluationTime: chosen === undefined ? askedAt : Math.round(chosen.timestamp * 1000),
      query: promql,
      seriesCount: samples.length,
    };
  }

  /** An empty answer is "no data" only if the series exist at all; otherwise the source is wrong. */
  async #requireSeries(definition: MetricDefinition, options: CallOptions): Promise<void> {
    const missing = await this.#seriesNames.missing(definition.series, options);
    if (missing === undefined || missing.length === 0) return;
    const option = definition.seriesReplaceable ? "series or template" : "template";
    throw new MetricsAccessError(
      "failed_precondition",
      `metric ${definition.name} reads ${missing.join(", ")}, which ${this.#datasource.name === "aetos" ? "Aetos" : "Prometheus"} does not hold; [metric.${definition.name}] ${option} changes its source (docs/metrics.md)`,
      { reason: "SERIES_ABSENT" },
    );
  }
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
