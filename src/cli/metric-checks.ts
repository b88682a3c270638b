import type { Datasource } from "../datasource/datasource.js";
import { isMetricsAccessError } from "../errors.js";
import type { MetricDefinition } from "../metrics/catalogue.js";
import type { HostEntry } from "../metrics/hosts.js";
import { EVERY_RESOURCE, renderTemplate } from "../metrics/promql.js";
import type { MetricAnswer, MetricStatus, MetricsService } from "../metrics/service.js";
import { type CheckResult, failed, type JsonObject, ok, skipped } from "./report.js";
import { safeMessage } from "./safe-message.js";

/** The window and aggregate of every metric check: the RPCs' defaults. */
export const CHECK_PERIOD_SECONDS = 300;
const CHECK_AGGREGATE = "mean";
/** Hosts named in the table; the JSON document lists them all. */
const HOSTS_SHOWN = 10;

export interface MetricChecksInput {
  readonly service: MetricsService;
  readonly datasource: Datasource;
  /** From --host: the host to ask; undefined: one of those seen. */
  readonly host: string | undefined;
  /** From --instance: the instance to ask; undefined: one found in a metric's answer. */
  readonly instance: string | undefined;
}

/**
 * Through the use cases the RPCs call: the hosts (ListHosts), the catalogue and what the backend
 * holds (ListMetrics), then each metric the backend holds for one host (GetHostMetric) or one
 * instance (GetInstanceMetric).
 */
export async function checkMetrics(input: MetricChecksInput): Promise<CheckResult[]> {
  const hosts = await checkHosts(input);
  const metrics = await checkCatalogue(input);
  const instances = await checkInstances(input, metrics.statuses);
  const perMetric: CheckResult[] = [];
  for (const status of metrics.statuses) {
    const resource = status.definition.subject === "host" ? hosts.chosen : instances.chosen;
    perMetric.push(await checkMetric(input, status, resource));
  }
  return [hosts.result, metrics.result, instances.result, ...perMetric];
}

async function checkHosts(
  input: MetricChecksInput,
): Promise<{ result: CheckResult; chosen: string | undefined }> {
  let hosts: readonly HostEntry[];
  try {
    hosts = (await input.service.listHosts(Number.MAX_SAFE_INTEGER, undefined)).hosts;
  } catch (err) {
    return { result: failed("hosts", safeMessage(err)), chosen: undefined };
  }
  const label = input.datasource.labels.fqdn;
  if (hosts.length === 0) {
    const section = input.datasource.name === "aetos" ? "aetos_client" : "prometheus_client";
    return {
      result: failed(
        "hosts",
        `no active target carries the label ${label}: no host metric can be answered ([${section}] fqdn_label)`,
      ),
      chosen: undefined,
    };
  }
  const names = hosts.map((h) => h.labelValue);
  const shown = names.slice(0, HOSTS_SHOWN).join(", ");
  const more = names.length > HOSTS_SHOWN ? ` and ${names.length - HOSTS_SHOWN} more` : "";
  // A host with a live exporter has current samples; a target that is down may have none.
  const chosen =
    input.host ?? (hosts.find((h) => h.targets.some((t) => t.health === "up")) ?? hosts[0])?.labelValue;
  const detail = `${hosts.length} seen through the label ${label}: ${shown}${more}`;
  return { result: ok("hosts", detail, { label, hosts: names }), chosen };
}

interface CatalogueCheck {
  readonly result: CheckResult;
  readonly statuses: readonly MetricStatus[];
}

async function checkCatalogue(input: MetricChecksInput): Promise<CatalogueCheck> {
  let statuses: MetricStatus[];
  try {
    statuses = await input.service.listMetrics(undefined);
  } catch (err) {
    return { result: failed("metrics", safeMessage(err)), statuses: [] };
  }
  const backend = input.datasource.name === "aetos" ? "Aetos" : "Prometheus";
  const held = statuses.filter((s) => s.missingSeries?.length === 0);
  const notHeld = statuses.filter((s) => (s.missingSeries?.length ?? 0) > 0);
  const unknown = statuses.filter((s) => s.missingSeries === undefined);
  const parts = [`${statuses.length} in the catalogue`, `${held.length} held by ${backend}`];
  if (notHeld.length > 0) parts.push(`not held: ${notHeld.map((s) => s.definition.name).join(", ")}`);
  if (unknown.length > 0) {
    parts.push(
      `${unknown.length} unknown (${backend} shows this token only its project's series): queried all the same`,
    );
  }
  const data = {
    metrics: statuses.map((s) => ({
      name: s.definition.name,
      subject: s.definition.subject,
      origin: s.definition.origin,
      available: s.missingSeries === undefined ? null : s.missingSeries.length === 0,
      missingSeries: s.missingSeries === undefined ? null : [...s.missingSeries],
    })),
  };
  return { result: ok("metrics", parts.join("; "), data), statuses };
}

/** Whether the metric may be asked: the backend holds its series, or cannot say. */
function askable(status: MetricStatus): boolean {
  return status.missingSeries === undefined || status.missingSeries.length === 0;
}

/**
 * The instance to ask: --instance, or the first (in order) that the answer of an instance metric
 * the backend holds names, trying them in catalogue order. There is no instance directory to ask
 * as there is for hosts: the metric's own query for every instance (the unfiltered form a batch
 * sends) is what shows which instances have samples.
 */
async function checkInstances(
  input: MetricChecksInput,
  statuses: readonly MetricStatus[],
): Promise<{ result: CheckResult; chosen: string | undefined }> {
  if (input.instance !== undefined) {
    return { result: ok("instances", `asking ${input.instance} (from --instance)`), chosen: input.instance };
  }
  const candidates = statuses.filter((s) => s.definition.subject === "instance" && askable(s));
  if (candidates.length === 0) {
    return {
      result: skipped("instances", "no instance metric the backend holds to look in"),
      chosen: undefined,
    };
  }
  for (const status of candidates) {
    let ids: string[];
    try {
      ids = await instancesAnswering(input.datasource, status.definition, status.labelName);
    } catch (err) {
      return {
        result: failed("instances", `${status.definition.name}: ${safeMessage(err)}`),
        chosen: undefined,
      };
    }
    const [first] = ids;
    if (first !== undefined) {
      const detail = `${ids.length} with samples of ${status.definition.name} (label ${status.labelName}); asking ${first}`;
      return {
        result: ok("instances", detail, { label: status.labelName, count: ids.length }),
        chosen: first,
      };
    }
  }
  const names = candidates.map((s) => s.definition.name).join(", ");
  return {
    result: skipped("instances", `no instance has samples of ${names} in the last ${CHECK_PERIOD_SECONDS} s`),
    chosen: undefined,
  };
}

async function instancesAnswering(
  datasource: Datasource,
  definition: MetricDefinition,
  label: string,
): Promise<string[]> {
  const promql = renderTemplate(definition.template, {
    agg: "avg",
    label,
    value: EVERY_RESOURCE,
    period: CHECK_PERIOD_SECONDS,
    vcpus: 1,
  });
  const samples = await datasource.instantQuery(promql, {});
  const ids = new Set(samples.flatMap((s) => (s.labels[label] === undefined ? [] : [s.labels[label]])));
  return [...ids].sort();
}

async function checkMetric(
  input: MetricChecksInput,
  status: MetricStatus,
  resource: string | undefined,
): Promise<CheckResult> {
  const { definition } = status;
  const check = `metric ${definition.name}`;
  if (status.missingSeries !== undefined && status.missingSeries.length > 0) {
    const backend = input.datasource.name === "aetos" ? "Aetos" : "Prometheus";
    return seriesAbsent(check, definition, `${backend} does not hold ${status.missingSeries.join(", ")}`);
  }
  if (resource === undefined) {
    return skipped(check, `no ${definition.subject} to ask (see ${definition.subject}s)`);
  }
  let answer: MetricAnswer;
  try {
    const ask = {
      metric: definition.name,
      periodSeconds: CHECK_PERIOD_SECONDS,
      aggregate: CHECK_AGGREGATE,
    } as const;
    answer =
      definition.subject === "host"
        ? await input.service.hostMetric({ ...ask, host: resource })
        : await input.service.instanceMetric({ ...ask, instanceId: resource, vcpus: 1 });
  } catch (err) {
    if (isMetricsAccessError(err) && err.reason === "SERIES_ABSENT") {
      return seriesAbsent(check, definition, err.message);
    }
    return failed(check, safeMessage(err));
  }
  const data: JsonObject = {
    metric: answer.metric,
    subject: definition.subject,
    labelName: answer.labelName,
    labelValue: answer.labelValue,
    value: answer.value ?? null,
    unit: answer.unit,
    seriesCount: answer.seriesCount,
    query: answer.query,
  };
  const detail =
    answer.value === undefined
      ? `no data for ${answer.labelValue} over the last ${CHECK_PERIOD_SECONDS} s (the query ran)`
      : `${formatValue(answer.value)} ${answer.unit} for ${answer.labelValue}`;
  return ok(check, detail, data);
}

/**
 * A metric whose series the backend lacks. A built-in one is skipped: the catalogue offers metrics
 * that many clouds do not collect (IPMI, libvirt's cache). One the operator configured or changed
 * fails: the configuration asks for it, and it cannot be served.
 */
function seriesAbsent(check: string, definition: MetricDefinition, why: string): CheckResult {
  if (definition.origin === "built_in") return skipped(check, why);
  return failed(check, `${why} ([metric.${definition.name}] is ${definition.origin} by the configuration)`);
}

/** Six significant digits at most, without an exponent for everyday magnitudes. */
export function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}
