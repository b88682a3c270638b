import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { METRIC_OPTIONS } from "./metric-schema.js";
import { optionReference } from "./reference.js";

describe("docs/configuration.md", () => {
  it("carries the option table generated from the schema (npx tsx scripts/options-reference.ts)", () => {
    const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    expect(doc).toContain(optionReference());
  });
});

describe("docs/metrics.md", () => {
  it("carries the [metric.<name>] option table generated from the schema (npx tsx scripts/options-reference.ts metric)", () => {
    const doc = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");
    expect(doc).toContain(optionReference(METRIC_OPTIONS));
  });
});
