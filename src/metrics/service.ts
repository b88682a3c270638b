import type { CallOptions, Datasource } from "../datasource/datasource.js";
import { invalidArgument } from "../errors.js";
import { MAX_BATCH_ITEMS } from "./batch.js";
import type { Catalogue, MetricDefinition, Subject } from "./catalogue.js";
import { HostDirectory, type HostEntry } from "./hosts.js";
import { type Aggregate, type MetricAnswer, MetricQueries, type RanQuery } from "./metric-queries.js";
import type { SeriesNames } from "./series-names.js";

export type { Aggregate, MetricAnswer } from "./metric-queries.js";

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
  readonly queries: readonly RanQuery[];
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

/**
 * The use cases: resolve the subject (hosts through the targets), then let the metric's queries
 * answer, one resource or many at a time; list hosts and metrics.
 */
export class MetricsService {
  readonly #datasource: Datasource;
  readonly #hosts: HostDirectory;
  readonly #catalogue: Catalogue;
  readonly #queries: MetricQueries;

  constructor(parts: MetricsServiceParts) {
    this.#datasource = parts.datasource;
    this.#hosts = parts.hosts;
    this.#catalogue = parts.catalogue;
    this.#queries = new MetricQueries(parts);
  }

  async hostMetric(query: HostMetricQuery, options: CallOptions = {}): Promise<MetricAnswer> {
    const definition = this.#queries.definition(query.metric, "host");
    const labelValue = await this.#hostsFor(options).resolve(query.host, options);
    return await this.#queries.single(definition, labelValue, query, options);
  }

  async instanceMetric(query: InstanceMetricQuery, options: CallOptions = {}): Promise<MetricAnswer> {
    const definition = this.#queries.definition(query.metric, "instance");
    return await this.#queries.single(definition, query.instanceId, query, options);
  }

  /**
   * Host metrics for many hosts in one go: one query per metric (see planQueries), mapped back to
   * each host; an unknown or ambiguous host is an item's status.
   */
  async hostMetrics(query: HostBatchQuery, options: CallOptions = {}): Promise<BatchAnswer> {
    const definitions = unique(query.metrics).map((m) => this.#queries.definition(m, "host"));
    const hosts = this.#hostsFor(options);
    const known = await hosts.list(options);
    const asked = query.hosts === "all" ? known.map((h) => h.labelValue) : unique(query.hosts);
    checkBatchSize(query.hosts === "all" ? "all_hosts" : "hosts", asked.length, definitions.length);
    const resolutions =
      query.hosts === "all"
        ? new Map(asked.map((h) => [h, { labelValue: h }]))
        : await hosts.resolveAll(asked, options);
    const values = unique(
      [...resolutions.values()].flatMap((r) => ("labelValue" in r ? [r.labelValue] : [])),
    );
    const batch = await this.#queries.batch(
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
    const definitions = unique(query.metrics).map((m) => this.#queries.definition(m, "instance"));
    const vcpusOf = new Map<string, number>();
    for (const { instanceId, vcpus } of query.instances) {
      if (!vcpusOf.has(instanceId)) vcpusOf.set(instanceId, vcpus > 0 ? vcpus : 1);
    }
    checkBatchSize("instances", vcpusOf.size, definitions.length);
    const values = [...vcpusOf].map(([value, vcpus]) => ({ value, vcpus }));
    const batch = await this.#queries.batch(definitions, values, { ...query, mostWanted: false }, options);
    const items = [...vcpusOf.keys()].flatMap((id) =>
      definitions.map((definition) => item(id, batch.answers.get(definition.name)?.get(id))),
    );
    return { items, queries: batch.queries };
  }

  /** Hosts sorted by label value, `pageSize` at a time, continuing after the label value `after`. */
  async listHosts(pageSize: number, after: string | undefined, options: CallOptions = {}): Promise<HostPage> {
    const all = await this.#hostsFor(options).list(options);
    const start = after === undefined ? 0 : all.findIndex((h) => h.labelValue > after);
    const hosts = start < 0 ? [] : all.slice(start, start + pageSize);
    const last = hosts.at(-1);
    const more = start >= 0 && start + pageSize < all.length;
    return { hosts, nextAfter: more && last ? last.labelValue : undefined };
  }

  /**
   * The Keystone project the backend confines this call's answers to, or undefined when they see
   * every project (see MetricValue.project_scope).
   */
  async projectScope(options: CallOptions = {}): Promise<string | undefined> {
    // Prometheus has no projects: no need to ask through the decorators on every call.
    if (this.#datasource.name === "prometheus") return undefined;
    return await this.#datasource.projectScope(options);
  }

  /**
   * The host directory a call resolves hosts in: the shared one, loaded with the service's own
   * credentials; or, for a caller whose token is forwarded upstream, one loaded for this call with
   * that token, so that which hosts it sees (if any) is what the backend shows that token.
   */
  #hostsFor(options: CallOptions): HostDirectory {
    if (options.callerToken === undefined) return this.#hosts;
    return new HostDirectory({
      label: this.#datasource.labels.fqdn,
      loadTargets: (load) => this.#datasource.activeTargets({ ...options, signal: load.signal }),
      minRefreshIntervalMs: Number.POSITIVE_INFINITY,
    });
  }

  /** The catalogue, or one subject of it, with what this backend can serve now. */
  async listMetrics(subject: Subject | undefined, options: CallOptions = {}): Promise<MetricStatus[]> {
    const statuses: MetricStatus[] = [];
    for (const definition of this.#catalogue.list(subject)) {
      statuses.push({
        definition,
        labelName: this.#queries.labelOf(definition),
        missingSeries: await this.#queries.missingSeries(definition, options),
      });
    }
    return statuses;
  }
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
