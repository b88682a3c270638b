import type { Subject } from "../metrics/catalogue.js";
import type { MetricOverride } from "../metrics/catalogue-build.js";
import type { IniSections, IniValue } from "./ini.js";
import { METRIC_OPTIONS, METRIC_SECTION_PREFIX } from "./metric-schema.js";
import { LABEL_NAME, parseBoolean } from "./options.js";

const METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const SERIES_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const UNIT = /^\S{1,32}$/;
const ENV_PREFIX = "METRICS_ACCESS__METRIC__";

export interface MetricSections {
  readonly overrides: readonly MetricOverride[];
  readonly problems: readonly string[];
}

/** Whether an environment variable is a metric section's: METRICS_ACCESS__METRIC__<NAME>__<OPTION>. */
export function isMetricEnvironmentName(name: string): boolean {
  return parseEnvironmentName(name) !== undefined;
}

/**
 * Reads every `[metric.<name>]` section of the files and every METRICS_ACCESS__METRIC__<NAME>__<OPTION>
 * variable (which wins, as for every option), checking each option on its own: known options,
 * well-formed names, series, labels, units and booleans. Whether the options make a metric together
 * is the catalogue's to judge (metrics/catalogue-build.ts).
 */
export function readMetricSections(sections: IniSections, env: NodeJS.ProcessEnv): MetricSections {
  const problems: string[] = [];
  const raw = new Map<string, Map<string, IniValue>>();
  for (const [section, options] of sections) {
    if (!section.startsWith(METRIC_SECTION_PREFIX)) continue;
    raw.set(section.slice(METRIC_SECTION_PREFIX.length), new Map(options));
  }
  for (const [name, value] of Object.entries(env)) {
    const parsed = parseEnvironmentName(name);
    if (parsed === undefined || value === undefined) continue;
    const options = raw.get(parsed.metric) ?? new Map<string, IniValue>();
    options.set(parsed.option, { value, source: `environment ${name}` });
    raw.set(parsed.metric, options);
  }
  const overrides: MetricOverride[] = [];
  for (const [name, options] of raw) {
    const section = `${METRIC_SECTION_PREFIX}${name}`;
    if (!METRIC_NAME.test(name)) {
      problems.push(
        `[${section}]: a metric name is 1 to 64 lower-case letters, digits and _, starting with a letter`,
      );
      continue;
    }
    const override = readOne(name, section, options, problems);
    if (override) overrides.push(override);
  }
  return { overrides, problems };
}

function readOne(
  name: string,
  section: string,
  options: ReadonlyMap<string, IniValue>,
  problems: string[],
): MetricOverride | undefined {
  const before = problems.length;
  const sources: Record<string, string> = {};
  const fail = (option: string, entry: IniValue, problem: string) =>
    problems.push(`[${section}] ${option} "${entry.value}": ${problem} [from ${entry.source}]`);
  for (const [option, entry] of options) {
    sources[option] = entry.source;
    if (!METRIC_OPTIONS.some((o) => o.name === option)) {
      const known = METRIC_OPTIONS.map((o) => o.name).join(", ");
      problems.push(`[${section}] ${option}: unknown option (known: ${known}) [from ${entry.source}]`);
    }
  }
  const text = (option: string, pattern: RegExp | undefined, problem: string): string | undefined => {
    const entry = options.get(option);
    const value = entry?.value.trim();
    if (entry === undefined || value === undefined || value === "") return undefined;
    if (pattern && !pattern.test(value)) fail(option, entry, problem);
    return value;
  };
  const series = text("series", SERIES_NAME, "must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  const template = text("template", undefined, "");
  const subject = text("subject", /^(host|instance)$/, "must be host or instance") as Subject | undefined;
  const unit = text(
    "unit",
    UNIT,
    "must be a unit without spaces, at most 32 characters (e.g. %, By, W, Cel)",
  );
  const label = text("label", LABEL_NAME, "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)");
  const description = text("description", undefined, "");
  const invertEntry = options.get("invert_min_max");
  let invertMinMax: boolean | undefined;
  if (invertEntry !== undefined) {
    invertMinMax = parseBoolean(invertEntry.value);
    if (invertMinMax === undefined) fail("invert_min_max", invertEntry, "must be true or false");
  }
  if (problems.length > before) return undefined;
  return { name, section, series, template, subject, unit, label, invertMinMax, description, sources };
}

function parseEnvironmentName(name: string): { metric: string; option: string } | undefined {
  if (!name.startsWith(ENV_PREFIX)) return undefined;
  const rest = name.slice(ENV_PREFIX.length);
  const split = rest.lastIndexOf("__");
  if (split <= 0) return undefined;
  const option = rest.slice(split + 2).toLowerCase();
  if (!METRIC_OPTIONS.some((o) => o.name === option)) return undefined;
  return { metric: rest.slice(0, split).toLowerCase(), option };
}
