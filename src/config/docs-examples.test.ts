import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";

const doc = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");
const examples = [...doc.matchAll(/```ini\n# docs-example: ([\w-]+)\n([\s\S]*?)```/g)].map(
  (m) => [m[1] ?? "", m[2] ?? ""] as const,
);

describe("the example configurations of docs/metrics.md", () => {
  it("are there", () => {
    expect(examples.map(([name]) => name)).toEqual([
      "libvirt",
      "ipmi_exporter",
      "newer-ceilometer",
      "own-metric",
    ]);
  });

  it.each(examples)("%s loads without a problem", (_name, text) => {
    const config = loadConfig({
      argv: ["--config-file", "/watcher.conf"],
      env: {},
      readFile: () => Buffer.from(`[prometheus_client]\nhost = prom.example.com\n\n${text}`),
    });
    const sections = [...text.matchAll(/^\[metric\.(\w+)\]$/gm)].map((m) => m[1]);
    for (const name of sections) {
      expect(config.metrics.find((m) => m.name === name)?.origin).toMatch(/overridden|configured/);
    }
  });
});
