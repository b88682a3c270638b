import type { OptionSpec } from "./schema.js";

/** `[metric.<name>]`: one section per metric of the catalogue that the operator changes or adds. */
export const METRIC_SECTION_PREFIX = "metric.";
export const METRIC_SECTION = `${METRIC_SECTION_PREFIX}<name>`;

/** The options of a `[metric.<name>]` section (docs/metrics.md explains them with examples). */
export const METRIC_OPTIONS: readonly OptionSpec[] = [
  {
    section: METRIC_SECTION,
    name: "series",
    type: "string",
    help: "Series name that replaces a built-in metric's default series (built-ins that read one series only). Not with template.",
  },
  {
    section: METRIC_SECTION,
    name: "template",
    type: "string",
    help: "Full PromQL template with the placeholders {{matcher}}, {{label}}, {{agg}}, {{period}} and, for instance metrics, {{vcpus}}; {{matcher}} is required. Required for a metric that is not built in.",
  },
  {
    section: METRIC_SECTION,
    name: "subject",
    type: "string",
    choices: ["host", "instance"],
    help: "What the metric describes. Required for a metric that is not built in; a built-in's cannot change.",
  },
  {
    section: METRIC_SECTION,
    name: "unit",
    type: "string",
    help: "UCUM-style unit of the values, as OpenTelemetry writes units (%, By, KiBy, MBy, GBy, W, Cel, …). Required for a metric that is not built in.",
  },
  {
    section: METRIC_SECTION,
    name: "label",
    type: "string",
    help: "Label that selects the resource in this metric's series ({{label}} and {{matcher}}). Default: fqdn_label for host metrics, instance_uuid_label for instance metrics, of the datasource's section.",
  },
  {
    section: METRIC_SECTION,
    name: "invert_min_max",
    type: "boolean",
    help: "Swap max and min before they reach the template, as Watcher does for host_cpu_usage and host_ram_usage (true for those two, false otherwise).",
  },
  {
    section: METRIC_SECTION,
    name: "description",
    type: "string",
    help: "What the metric measures, shown by ListMetrics.",
  },
];
