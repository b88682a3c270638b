import type { CallOptions, Datasource, Sample } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { BATCH_CONCURRENCY, mapLimited, planQueries, type QueryForm, samplesByValue } from "./batch.js";
import { type Catalogue, type MetricDefinition, SUBJECT_PHRASE, type Subject } from "./catalogue.js";
import { type PromqlAggregate, renderTemplate } from "./promql.js";
import { firstByLabels, parseSampleValue } from "./samples.js";
import type { SeriesNames } from "./series-names.js";

export type Aggregate = "mean" | "max" | "min" | "count";

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

/** What every query of a metric needs besides the resource. */
export interface MetricAsk {
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
}

/** The queries a batch ran, as its answer shows them. */
export interface RanQuery {
  readonly metric: string;
  readonly form: QueryForm;
  readonly query: string;
  readonly resourceCount: number;
}

export interface MetricQueriesParts {
  readonly datasource: Datasource;
  readonly catalogue: Catalogue;
  readonly seriesNames: SeriesNames;
  readonly now?: () => number;
}

const AGGREGATES: Record<Aggregate, PromqlAggregate> = { mean: "avg", max: "max", min: "min", count: "avg" };
const INVERTED: Record<PromqlAggregate, PromqlAggregate> = { avg: "avg", max: "min", min: "max" };

/**
 * A metric's queries, from its catalogue entry to the answer for each resource: the same rendering
 * and the same shaping for a single call and for a batch, which is why both give the same numbers.
 * An empty answer is checked against the backend's series names (SERIES_ABSENT).
 */
export class MetricQueries {
  readonly #datasource: Datasource;
  readonly #catalogue: Catalogue;
  readonly #seriesNames: SeriesNames;
  readonly #now: () => number;

  constructor(parts: MetricQueriesParts) {
    this.#datasource = parts.datasource;
    this.#catalogue = parts.catalogue;
    this.#seriesNames = parts.seriesNames;
    this.#now = parts.now ?? Date.now;
  }

  /** The catalogue entry of a metric of `subject`; INVALID_ARGUMENT naming the subject's metrics otherwise. */
  definition(metric: string, subject: Subject): MetricDefinition {
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

  /** The label that selects the resource: the metric's own, or the datasource section's. */
  labelOf(definition: MetricDefinition): string {
    const labels = this.#datasource.labels;
    return definition.label ?? (definition.subject === "host" ? labels.fqdn : labels.instanceUuid);
  }

  /** The series a metric reads that the backend does not hold; undefined when it cannot be told. */
  missingSeries(definition: MetricDefinition, options: CallOptions): Promise<string[] | undefined> {
    return this.#seriesNames.missing(definition.series, options);
  }

  /** One resource's value: the metric's query for it, run and shaped. */
  async single(
    definition: MetricDefinition,
    labelValue: string,
    ask: MetricAsk & { readonly vcpus?: number },
    options: CallOptions,
  ): Promise<MetricAnswer> {
    const labelName = this.labelOf(definition);
    const promql = renderTemplate(definition.template, {
      agg: this.#aggregate(definition, ask.aggregate),
      label: labelName,
      value: labelValue,
      period: ask.periodSeconds,
      ...(definition.subject === "instance" && {
        vcpus: ask.vcpus !== undefined && ask.vcpus > 0 ? ask.vcpus : 1,
      }),
    });
    const askedAt = this.#now();
    const samples = await this.#datasource.instantQuery(promql, options);
    if (samples.length === 0) await this.#requireSeries(definition, options);
    return answerOf(definition, samples, { labelName, labelValue, askedAt, query: promql });
  }

  /** Every metric for many resources: its planned queries, run a few at a time, mapped back to each value. */
  async batch(
    definitions: readonly MetricDefinition[],
    values: readonly { value: string; vcpus: number }[],
    query: MetricAsk & { readonly mostWanted: boolean },
    options: CallOptions,
  ): Promise<{ answers: Map<string, Map<string, MetricAnswer>>; queries: RanQuery[] }> {
    const askedAt = this.#now();
    const planned = definitions.flatMap((definition) =>
      planQueries({
        definition,
        label: this.labelOf(definition),
        agg: this.#aggregate(definition, query.aggregate),
        periodSeconds: query.periodSeconds,
        values,
        mostWanted: query.mostWanted,
        maxQueryLength: this.#datasource.maxQueryLength,
        queryLength: (text) => this.#datasource.queryLength(text),
      }),
    );
    const results = await mapLimited(planned, BATCH_CONCURRENCY, (p) =>
      this.#datasource.instantQuery(p.promql, options),
    );
    const answers = new Map<string, Map<string, MetricAnswer>>();
    for (const definition of definitions) {
      const labelName = this.labelOf(definition);
      const byValue = new Map<string, MetricAnswer>();
      let samplesSeen = 0;
      planned.forEach((p, i) => {
        if (p.metric !== definition.name) return;
        const grouped = samplesByValue(results[i] ?? [], labelName);
        samplesSeen += results[i]?.length ?? 0;
        for (const value of p.values) {
          const at = { labelName, labelValue: value, askedAt, query: "" };
          byValue.set(value, answerOf(definition, grouped.get(value) ?? [], at));
        }
      });
      if (samplesSeen === 0 && values.length > 0) await this.#requireSeries(definition, options);
      answers.set(definition.name, byValue);
    }
    const queries = planned.map((p) => ({
      metric: p.metric,
      form: p.form,
      query: p.promql,
      resourceCount: p.values.length,
    }));
    return { answers, queries };
  }

  /** Watcher's get_host_* swaps max and min for the metrics that read idle CPU or available memory. */
  #aggregate(definition: MetricDefinition, aggregate: Aggregate): PromqlAggregate {
    const agg = AGGREGATES[aggregate];
    return definition.invertMinMax ? INVERTED[agg] : agg;
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
 * The answer for one resource from the samples its query returned for it: the same shaping for a
 * single call and for each resource of a batch, so that both give the same numbers.
 */
export function answerOf(
  definition: MetricDefinition,
  samples: readonly Sample[],
  at: { labelName: string; labelValue: string; askedAt: number; query: string },
): MetricAnswer {
  const chosen = firstByLabels(samples);
  return {
    metric: definition.name,
    value: chosen === undefined ? undefined : parseSampleValue(chosen.value),
    unit: definition.unit,
    labelName: at.labelName,
    labelValue: at.labelValue,
    evaluationTime: chosen === undefined ? at.askedAt : Math.round(chosen.timestamp * 1000),
    query: at.query,
    seriesCount: samples.length,
  };
}
