import {
  BUILT_IN_METRICS,
  type BuiltInMetric,
  type MetricDefinition,
  type MetricOrigin,
  SUBJECT_PHRASE,
  type Subject,
} from "./catalogue.js";
import {
  renderTemplate,
  SERIES_PLACEHOLDER,
  TEMPLATE_PLACEHOLDERS,
  templatePlaceholders,
  withSeries,
} from "./promql.js";
import { readPromql } from "./promql-parse.js";

/** One `[metric.<name>]` section, its options already checked one by one by the configuration. */
export interface MetricOverride {
  readonly name: string;
  /** The section's name as the operator writes it, for messages: `metric.<name>`. */
  readonly section: string;
  readonly series?: string | undefined;
  readonly template?: string | undefined;
  readonly subject?: Subject | undefined;
  readonly unit?: string | undefined;
  readonly label?: string | undefined;
  readonly invertMinMax?: boolean | undefined;
  readonly description?: string | undefined;
  /** Where each option came from ("file.conf:12", "environment …"), for messages. */
  readonly sources: Readonly<Record<string, string>>;
}

export interface CatalogueBuild {
  readonly metrics: readonly MetricDefinition[];
  /** Every problem, each naming `[metric.<name>] option`; empty when the catalogue is good. */
  readonly problems: readonly string[];
}

/**
 * Merges the built-in defaults with the operator's sections and checks every template: known
 * placeholders only, {{vcpus}} only for instances, a {{matcher}} that selects the resource, PromQL
 * that parses, at least one series read by name. Every problem is collected, none stops the others.
 */
export function buildCatalogue(overrides: readonly MetricOverride[]): CatalogueBuild {
  const problems: string[] = [];
  const byName = new Map(overrides.map((o) => [o.name, o]));
  const metrics: MetricDefinition[] = [];
  for (const builtIn of BUILT_IN_METRICS) {
    const override = byName.get(builtIn.name);
    const definition = override ? overrideBuiltIn(builtIn, override, problems) : fromBuiltIn(builtIn);
    if (definition) metrics.push(definition);
  }
  for (const override of overrides) {
    if (BUILT_IN_METRICS.some((b) => b.name === override.name)) continue;
    const definition = configured(override, problems);
    if (definition) metrics.push(definition);
  }
  return { metrics, problems };
}

function fromBuiltIn(builtIn: BuiltInMetric): MetricDefinition {
  const template =
    builtIn.defaultSeries === undefined
      ? builtIn.template
      : withSeries(builtIn.template, builtIn.defaultSeries);
  return define(builtIn, template, undefined, "built_in");
}

function overrideBuiltIn(
  builtIn: BuiltInMetric,
  o: MetricOverride,
  problems: string[],
): MetricDefinition | undefined {
  const problem = reporter(o, problems);
  const before = problems.length;
  if (o.subject !== undefined && o.subject !== builtIn.subject) {
    problem(
      "subject",
      `${o.name} is a built-in ${builtIn.subject} metric; ${SUBJECT_PHRASE[o.subject]} needs a name of its own`,
    );
  }
  if (o.series !== undefined && o.template !== undefined) {
    problem("series", "set series or template, not both (a template names its own series)");
  }
  let template = builtIn.template;
  if (o.template !== undefined) {
    template = o.template;
  } else if (o.series !== undefined && builtIn.defaultSeries === undefined) {
    const reads = readPromql(renderTemplate(template, sampleValues(undefined))).series.join(", ");
    problem("series", `${o.name} reads several series (${reads}); replace its template instead`);
  } else if (builtIn.defaultSeries !== undefined) {
    template = withSeries(template, o.series ?? builtIn.defaultSeries);
  }
  if (o.template !== undefined) checkTemplate(o, builtIn.subject, problems);
  if (problems.length > before) return undefined;
  return define(
    {
      ...builtIn,
      unit: o.unit ?? builtIn.unit,
      description: o.description ?? builtIn.description,
      invertMinMax: o.invertMinMax ?? builtIn.invertMinMax,
    },
    template,
    o.label,
    "overridden",
  );
}

function configured(o: MetricOverride, problems: string[]): MetricDefinition | undefined {
  const problem = reporter(o, problems);
  const before = problems.length;
  if (o.template === undefined) {
    problem("template", `required: ${o.name} is not a built-in metric, so nothing says how to query it`);
  }
  if (o.series !== undefined) {
    problem(
      "series",
      `only replaces the series of a built-in metric; ${o.name} is not one, its template names its series`,
    );
  }
  if (o.subject === undefined)
    problem("subject", "required for a metric that is not built in: host or instance");
  if (o.unit === undefined)
    problem("unit", "required for a metric that is not built in, e.g. %, By, W or Cel");
  if (o.template !== undefined && o.subject !== undefined) checkTemplate(o, o.subject, problems);
  if (
    problems.length > before ||
    o.template === undefined ||
    o.subject === undefined ||
    o.unit === undefined
  ) {
    return undefined;
  }
  return define(
    {
      name: o.name,
      subject: o.subject,
      unit: o.unit,
      description: o.description ?? "",
      template: o.template,
      defaultSeries: undefined,
      invertMinMax: o.invertMinMax ?? false,
    },
    o.template,
    o.label,
    "configured",
  );
}

function checkTemplate(o: MetricOverride, subject: Subject, problems: string[]): void {
  const problem = reporter(o, problems);
  const template = o.template ?? "";
  const used = templatePlaceholders(template);
  const allowed: readonly string[] = TEMPLATE_PLACEHOLDERS;
  const unknown = [...new Set(used.filter((p) => !allowed.includes(p)))];
  if (unknown.length > 0) {
    const hint = unknown.includes(SERIES_PLACEHOLDER) ? " (a template writes its series names itself)" : "";
    problem(
      "template",
      `unknown placeholder ${unknown.map((p) => `{{${p}}}`).join(", ")}${hint}; known: ${allowed.map((p) => `{{${p}}}`).join(", ")}`,
    );
    return;
  }
  if (subject === "host" && used.includes("vcpus")) {
    problem("template", "{{vcpus}} is only known for instance metrics");
    return;
  }
  if (!used.includes("matcher")) {
    problem("template", "must select the resource with {{matcher}}, e.g. my_series{{{matcher}}}");
    return;
  }
  const reading = readPromql(renderTemplate(template, sampleValues(o.label)));
  if (reading.error !== undefined) {
    problem("template", `${reading.error} once its placeholders are filled in`);
  } else if (reading.series.length === 0) {
    problem("template", "reads no series by name, so its availability cannot be told");
  }
}

function define(
  metric: BuiltInMetric,
  template: string,
  label: string | undefined,
  origin: MetricOrigin,
): MetricDefinition {
  return {
    name: metric.name,
    subject: metric.subject,
    unit: metric.unit,
    description: metric.description,
    template,
    series: readPromql(renderTemplate(template, sampleValues(label))).series,
    label,
    invertMinMax: metric.invertMinMax,
    origin,
    seriesReplaceable: origin !== "configured" && metric.defaultSeries !== undefined,
  };
}

/** Values that make any valid template into PromQL, to read it without a resource at hand. */
function sampleValues(label: string | undefined) {
  return { agg: "avg", label: label ?? "label", value: "value", period: 300, vcpus: 1 } as const;
}

function reporter(o: MetricOverride, problems: string[]): (option: string, text: string) => void {
  return (option, text) => {
    const from = o.sources[option];
    problems.push(`[${o.section}] ${option}: ${text}${from === undefined ? "" : ` [from ${from}]`}`);
  };
}
