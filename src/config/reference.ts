import { environmentName, OPTIONS, type OptionSpec } from "./schema.js";

/**
 * An option reference as a Markdown table, generated from the schema: OPTIONS for
 * docs/configuration.md, METRIC_OPTIONS for docs/metrics.md.
 */
export function optionReference(options: readonly OptionSpec[] = OPTIONS): string {
  const rows = options.map((o) => {
    const fallback = o.default === undefined ? "—" : o.default === "" ? '`""`' : `\`${o.default}\``;
    const choices = o.choices ? ` One of: ${o.choices.join(", ")}.` : "";
    const secret = o.secret ? " Secret: never logged." : "";
    return `| \`[${o.section}] ${o.name}\` | ${o.type} | ${fallback} | \`${environmentName(o)}\` | ${o.help}${choices}${secret} |`;
  });
  return [
    "| option | type | default | environment | meaning |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
