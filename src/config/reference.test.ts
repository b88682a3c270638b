import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { optionReference } from "./reference.js";

describe("docs/configuration.md", () => {
  it("carries the option table generated from the schema (npx tsx scripts/options-reference.ts)", () => {
    const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    expect(doc).toContain(optionReference());
  });
});
