import { METRIC_OPTIONS } from "../src/config/metric-schema.js";
import { optionReference } from "../src/config/reference.js";

// `tsx scripts/options-reference.ts` prints the table of docs/configuration.md; with `metric`,
// the table of the [metric.<name>] options in docs/metrics.md.
process.stdout.write(`${optionReference(process.argv[2] === "metric" ? METRIC_OPTIONS : undefined)}\n`);
