import { environmentName, OPTIONS } from "./schema.js";

/** The option reference as a Markdown table, generated from the schema for docs/configuration.md. */
export function optionReference(): string {
  const rows = OPTIONS.map((o) => {
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
