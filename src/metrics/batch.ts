import type { Sample } from "../datasource/datasource.js";
import type { MetricDefinition } from "./catalogue.js";
import {
  alternative,
  EVERY_RESOURCE,
  type PromqlAggregate,
  renderTemplate,
  templatePlaceholders,
} from "./promql.js";

/** Most items (resources × metrics) one batch call may ask for. */
export const MAX_BATCH_ITEMS = 20_000;
/**
 * Most label values in one alternation. Beyond it, compiling the regex costs Prometheus more than
 * reading every series of the metric and filtering here (≈17 ms for 1,000 values, ≈135 ms for 5,000
 * on Prometheus 2.42; the unfiltered query of 5,000 instances took 60–90 ms).
 */
export const MAX_ALTERNATION = 1_000;
/** How many of a batch's queries run at once. */
export const BATCH_CONCURRENCY = 4;

/** How a batch query selects its resources. */
export type QueryForm = "alternation" | "alternation_chunk" | "unfiltered";

/** One query of a batch: its text, its form and the label values it answers for. */
export interface PlannedQuery {
  readonly metric: string;
  readonly form: QueryForm;
  readonly promql: string;
  readonly values: readonly string[];
}

export interface PlanInput {
  readonly definition: MetricDefinition;
  readonly label: string;
  readonly agg: PromqlAggregate;
  readonly periodSeconds: number;
  /** The label values wanted, each with the vCPU count its template needs (instances). */
  readonly values: readonly { readonly value: string; readonly vcpus: number }[];
  /** Whether (nearly) every resource of the label is wanted: then reading them all is cheapest. */
  readonly mostWanted: boolean;
  /** The longest query one request may carry, or undefined for no limit. */
  readonly maxQueryLength: number | undefined;
  readonly queryLength: (text: string) => number;
}

/**
 * The queries that answer one metric for a set of resources: one per metric, or one per distinct
 * vCPU count for a template that uses {{vcpus}} (so that every instance gets the arithmetic of its
 * single query, clamp included, bit for bit), each either unfiltered, one alternation of the exact
 * values, or several alternations that each fit in one request.
 */
export function planQueries(input: PlanInput): PlannedQuery[] {
  const usesVcpus = templatePlaceholders(input.definition.template).includes("vcpus");
  const groups = new Map<number, string[]>();
  for (const { value, vcpus } of input.values) {
    const key = usesVcpus ? vcpus : 0;
    const group = groups.get(key) ?? [];
    group.push(value);
    groups.set(key, group);
  }
  const planned: PlannedQuery[] = [];
  for (const [vcpus, values] of [...groups].sort(([a], [b]) => a - b)) {
    const render = (value: string | readonly string[] | typeof EVERY_RESOURCE) =>
      renderTemplate(input.definition.template, {
        agg: input.agg,
        label: input.label,
        value,
        period: input.periodSeconds,
        ...(usesVcpus && { vcpus }),
      });
    const metric = input.definition.name;
    if (input.mostWanted || values.length > MAX_ALTERNATION) {
      planned.push({ metric, form: "unfiltered", promql: render(EVERY_RESOURCE), values });
      continue;
    }
    const chunks = chunkValues(values, render, input);
    const form = chunks.length > 1 ? "alternation_chunk" : "alternation";
    for (const chunk of chunks) planned.push({ metric, form, promql: render(chunk), values: chunk });
  }
  return planned;
}

/** Splits values into alternations whose queries each fit in one request; one value always fits. */
function chunkValues(
  values: readonly string[],
  render: (values: readonly string[]) => string,
  input: PlanInput,
): string[][] {
  const max = input.maxQueryLength;
  if (max === undefined) return [[...values]];
  // Quoting and URL encoding both work character by character, so a query's length is the length
  // of the empty alternation plus each value's and separator's.
  const base = input.queryLength(render([]));
  const separator = input.queryLength("|");
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let length = base;
  for (const value of values) {
    const cost = input.queryLength(alternative(value));
    if (chunk.length > 0 && length + separator + cost > max) {
      chunks.push(chunk);
      chunk = [];
      length = base;
    }
    length += (chunk.length > 0 ? separator : 0) + cost;
    chunk.push(value);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** A batch query's samples by the resource label's value (samples without it are dropped). */
export function samplesByValue(samples: readonly Sample[], label: string): Map<string, Sample[]> {
  const byValue = new Map<string, Sample[]>();
  for (const sample of samples) {
    const value = sample.labels[label];
    if (value === undefined) continue;
    const group = byValue.get(value);
    if (group) group.push(sample);
    else byValue.set(value, [sample]);
  }
  return byValue;
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order of the results. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
