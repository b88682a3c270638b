/**
 * The only code that writes PromQL text. Label values become string literals that no input can
 * break out of; label names, series names and numbers are validated before they get here.
 */
export type PromqlAggregate = "avg" | "max" | "min";

/**
 * The placeholders a catalogue template may use:
 *   {{matcher}} the resource's label matcher: fqdn='compute-1.example' for one resource,
 *               fqdn=~'a\\.example|b\\.example' for several, fqdn!='' for every one (values escaped)
 *   {{label}}   the label name alone, for `by (…)`
 *   {{agg}}     avg | max | min
 *   {{period}}  whole seconds
 *   {{vcpus}}   the instance's vCPU count (instance metrics only)
 */
export const TEMPLATE_PLACEHOLDERS = ["matcher", "label", "agg", "period", "vcpus"] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

/** The placeholder of a built-in template that the `series` option replaces. */
export const SERIES_PLACEHOLDER = "series";

/** Every resource that carries the label: the unfiltered form of a batch. */
export const EVERY_RESOURCE: unique symbol = Symbol("every resource");

export interface TemplateValues {
  readonly agg: PromqlAggregate;
  readonly label: string;
  /** One label value, several (a batch), or every value of the label. */
  readonly value: string | readonly string[] | typeof EVERY_RESOURCE;
  readonly period: number;
  readonly vcpus?: number;
}

const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** Fills a catalogue template. Throws on a placeholder the template needs but the values lack. */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    switch (name) {
      case "agg":
        return values.agg;
      case "label":
        return values.label;
      case "matcher":
        return matcher(values.label, values.value);
      case "period":
        return String(values.period);
      case "vcpus":
        if (values.vcpus === undefined) throw new Error("template needs vcpus");
        return String(values.vcpus);
      default:
        throw new Error(`unknown template placeholder {{${name}}}`);
    }
  });
}

function matcher(label: string, value: TemplateValues["value"]): string {
  if (value === EVERY_RESOURCE) return `${label}!=''`;
  if (typeof value === "string") return `${label}=${quoteLabelValue(value)}`;
  return `${label}=~'${value.map(alternative).join("|")}'`;
}

/**
 * One exact value as an alternative of a PromQL regex matcher, as the text it adds inside the string
 * literal. Prometheus anchors a `=~` regex itself and turns an alternation of plain literals into a
 * set lookup; anchors of our own, or escapes of anything but RE2's meta characters (a uuid's `-`),
 * would defeat that fast path (docs/batch.md). PromQL string escaping comes on top.
 */
export function alternative(value: string): string {
  return quoteLabelValue(value.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&")).slice(1, -1);
}

/** A built-in template with its {{series}} filled in by a (validated) series name. */
export function withSeries(template: string, series: string): string {
  return template.replaceAll(`{{${SERIES_PLACEHOLDER}}}`, series);
}

/** The placeholders a template uses, so that the catalogue can be checked without rendering. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? "");
}

/**
 * A single-quoted PromQL string literal, as Watcher writes them. PromQL unquotes with Go's rules,
 * so backslash and the quote are escaped, and control characters use escapes a raw newline would
 * otherwise break the query with.
 */
export function quoteLabelValue(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    // Prometheus's lexer takes a literal U+FFFD for a decoding error and refuses the query.
    else if (code === 0xfffd) out += "\\ufffd";
    else out += ch;
  }
  return `${out}'`;
}
