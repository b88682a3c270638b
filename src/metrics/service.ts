import type { CallOptions, Datasource, Sample } from "../datasource/datasource.js";
import { invalidArgument, MetricsAccessError } from "../errors.js";
import {
  BATCH_CONCURRENCY,
  MAX_BATCH_ITEMS,
  mapLimited,
  planQueries,
  type QueryForm,
  samplesByValue,
} from "./batch.js";
import { type Catalogue, type MetricDefinition, SUBJECT_PHRASE, type Subject } from "./catalogue.js";
import type { HostDirectory, HostEntry } from "./hosts.js";
import { type PromqlAggregate, renderTemplate } from "./promql.js";
import { firstByLabels, parseSampleValue } from "./samples.js";
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

export interface HostBatchQuery {
  /** Host names as Nova knows them, or every known host. */
  readonly hosts: readonly string[] | "all";
  readonly metrics: readonly string[];
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
}

export interface InstanceBatchQuery {
  readonly instances: readonly { readonly instanceId: string; readonly vcpus: number }[];
  readonly metrics: readonly string[];
  readonly periodSeconds: number;
  readonly aggregate: Aggregate;
}

export type ItemStatus = "ok" | "no_data" | "host_not_found" | "host_ambiguous";

/** One resource's answer for one metric, in a batch. */
export interface BatchItem {
  /** The host or instance as asked. */
  readonly resource: string;
  readonly status: ItemStatus;
  /** With status ok or no_data; its `query` is empty (the batch's queries carry the PromQL). */
  readonly answer: MetricAnswer | undefined;
  /** With an error status: what the single call would have answered. */
  readonly message: string | undefined;
}

export interface BatchAnswer {
  /** Resource by resource in the order asked, each metric in the order asked. */
  readonly items: readonly BatchItem[];
  readonly queries: readonly { metric: string; form: QueryForm; query: string; resourceCount: number }[];
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

  /**
   * Host metrics for many hosts in one go: one query per metric (see planQueries), mapped back to
   * each host; an unknown or ambiguous host is an item's status.
   */
  async hostMetrics(query: HostBatchQuery, options: CallOptions = {}): Promise<BatchAnswer> {
    const definitions = unique(query.metrics).map((m) => this.#definition(m, "host"));
    const known = await this.#hosts.list(options);
    const asked = query.hosts === "all" ? known.map((h) => h.labelValue) : unique(query.hosts);
    checkBatchSize(query.hosts === "all" ? "all_hosts" : "hosts", asked.length, definitions.length);
    const resolutions =
      query.hosts === "all"
        ? new Map(asked.map((h) => [h, { labelValue: h }]))
        : await this.#hosts.resolveAll(asked, options);
    const values = unique(
      [...resolutions.values()].flatMap((r) => ("labelValue" in r ? [r.labelValue] : [])),
    );
    const batch = await this.#runBatch(
      definitions,
      values.map((value) => ({ value, vcpus: 1 })),
      { ...query, mostWanted: query.hosts === "all" || values.length * 2 >= known.length },
      options,
    );
    const items = asked.flatMap((host) => {
      const resolution = resolutions.get(host);
      return definitions.map((definition): BatchItem => {
        if (resolution === undefined || "error" in resolution) {
          const status = resolution?.error.reason === "HOST_AMBIGUOUS" ? "host_ambiguous" : "host_not_found";
          return { resource: host, status, answer: undefined, message: resolution?.error.message };
        }
        return item(host, batch.answers.get(definition.name)?.get(resolution.labelValue));
      });
    });
    return { items, queries: batch.queries };
  }

  /** Instance metrics for many instances in one go; see hostMetrics. */
  async instanceMetrics(query: InstanceBatchQuery, options: CallOptions = {}): Promise<BatchAnswer> {
    const definitions = unique(query.metrics).map((m) => this.#definition(m, "instance"));
    const vcpusOf = new Map<string, number>();
    for (const { instanceId, vcpus } of query.instances) {
      if (!vcpusOf.has(instanceId)) vcpusOf.set(instanceId, vcpus > 0 ? vcpus : 1);
    }
    checkBatchSize("instances", vcpusOf.size, definitions.length);
    const values = [...vcpusOf].map(([value, vcpus]) => ({ value, vcpus }));
    const batch = await this.#runBatch(definitions, values, { ...query, mostWanted: false }, options);
    const items = [...vcpusOf.keys()].flatMap((id) =>
      definitions.map((definition) => item(id, batch.answers.get(definition.name)?.get(id))),
    );
    return { items, queries: batch.queries };
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

  /** Plans every metric's queries, runs them a few at a time, and maps the samples back to each value. */
  async #runBatch(
    definitions: readonly MetricDefinition[],
    values: readonly { value: string; vcpus: number }[],
    query: { periodSeconds: number; aggregate: Aggregate; mostWanted: boolean },
    options: CallOptions,
  ): Promise<{ answers: Map<string, Map<string, MetricAnswer>>; queries: BatchAnswer["queries"] }> {
    const askedAt = this.#now();
    const planned = definitions.flatMap((definition) => {
      const agg = AGGREGATES[query.aggregate];
      return planQueries({
        definition,
        label: this.#labelOf(definition),
        agg: definition.invertMinMax ? INVERTED[agg] : agg,
        periodSeconds: query.periodSeconds,
        values,
        mostWanted: query.mostWanted,
        maxQueryLength: this.#datasource.maxQueryLength,
        queryLength: (text) => this.#datasource.queryLength(text),
      });
    });
    const results = await mapLimited(planned, BATCH_CONCURRENCY, (p) =>
      this.#datasource.instantQuery(p.promql, options),
    );
    const answers = new Map<string, Map<string, MetricAnswer>>();
    for (const definition of definitions) {
      const labelName = this.#labelOf(definition);
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
    return answerOf(definition, samples, { labelName, labelValue, askedAt, query: promql });
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

function item(resource: string, answer: MetricAnswer | undefined): BatchItem {
  const status = answer?.value === undefined ? "no_data" : "ok";
  return { resource, status, answer, message: undefined };
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function checkBatchSize(field: string, resources: number, metrics: number): void {
  if (resources * metrics > MAX_BATCH_ITEMS) {
    throw invalidArgument(
      field,
      `${resources} resources × ${metrics} metrics is more than ${MAX_BATCH_ITEMS} items in one call; split it`,
    );
  }
  if (resources === 0 && field !== "all_hosts") throw invalidArgument(field, "at least one is required");
}
