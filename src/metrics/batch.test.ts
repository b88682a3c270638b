import { describe, expect, it } from "vitest";
import { MAX_ALTERNATION, mapLimited, type PlanInput, planQueries, samplesByValue } from "./batch.js";
import { buildCatalogue } from "./catalogue-build.js";

const catalogue = new Map(buildCatalogue([]).metrics.map((m) => [m.name, m]));
const definition = (name: string) => {
  const found = catalogue.get(name);
  if (!found) throw new Error(name);
  return found;
};

function input(name: string, values: string[], extra: Partial<PlanInput> = {}): PlanInput {
  return {
    definition: definition(name),
    label: "fqdn",
    agg: "avg",
    periodSeconds: 300,
    values: values.map((value) => ({ value, vcpus: 1 })),
    mostWanted: false,
    maxQueryLength: undefined,
    queryLength: (text) => text.length,
    ...extra,
  };
}

describe("planQueries", () => {
  it("writes one alternation of exact values, escaping only RE2's meta characters", () => {
    const [query, ...rest] = planQueries(input("host_power", ["a.example", "b-1.example", "x|y(z)*"]));
    expect(rest).toEqual([]);
    expect(query).toEqual({
      metric: "host_power",
      form: "alternation",
      promql:
        "avg_over_time(ceilometer_hardware_ipmi_node_power{fqdn=~'a\\\\.example|b-1\\\\.example|x\\\\|y\\\\(z\\\\)\\\\*'}[300s])",
      values: ["a.example", "b-1.example", "x|y(z)*"],
    });
  });

  it("leaves a uuid's dashes alone and adds no anchors, so that Prometheus's set-match path applies", () => {
    const [query] = planQueries(
      input("instance_ram_usage", ["11111111-1111-4111-8111-111111111111"], { label: "resource" }),
    );
    expect(query?.promql).toBe(
      "avg_over_time(ceilometer_memory_usage{resource=~'11111111-1111-4111-8111-111111111111'}[300s])",
    );
  });

  it("escapes quotes and backslashes for the PromQL string on top of the regex escaping", () => {
    const [query] = planQueries(input("host_power", ["o'k\\x"]));
    expect(query?.promql).toContain("fqdn=~'o\\'k\\\\\\\\x'");
  });

  it("reads every resource unfiltered when most are wanted or the alternation would be too long", () => {
    expect(planQueries(input("host_power", ["a", "b"], { mostWanted: true }))[0]).toMatchObject({
      form: "unfiltered",
      promql: "avg_over_time(ceilometer_hardware_ipmi_node_power{fqdn!=''}[300s])",
    });
    const many = Array.from({ length: MAX_ALTERNATION + 1 }, (_, i) => `h${i}`);
    expect(planQueries(input("host_power", many)).map((q) => q.form)).toEqual(["unfiltered"]);
    expect(planQueries(input("host_power", many.slice(1))).map((q) => q.form)).toEqual(["alternation"]);
  });

  it("splits into chunks that each fit the length limit, every value in exactly one", () => {
    const values = Array.from({ length: 50 }, (_, i) => `compute-${i}.example`);
    const planned = planQueries(input("host_cpu_usage", values, { maxQueryLength: 400 }));
    expect(planned.length).toBeGreaterThan(3);
    expect(planned.every((q) => q.form === "alternation_chunk" && q.promql.length <= 400)).toBe(true);
    expect(planned.flatMap((q) => q.values)).toEqual(values);
    // Greedy: adding the next chunk's first value would have broken the limit.
    const [first, second] = planned;
    const joined = planQueries(input("host_cpu_usage", [...(first?.values ?? []), second?.values[0] ?? ""]));
    expect(joined[0]?.promql.length).toBeGreaterThan(400);
  });

  it("keeps one alternation when it fits, and sends an oversized single value on its own", () => {
    expect(planQueries(input("host_power", ["a", "b"], { maxQueryLength: 1000 })).map((q) => q.form)).toEqual(
      ["alternation"],
    );
    const huge = "h".repeat(500);
    const planned = planQueries(input("host_power", [huge, "b"], { maxQueryLength: 300 }));
    expect(planned.map((q) => q.values)).toEqual([[huge], ["b"]]);
  });

  it("runs a template with {{vcpus}} once per vCPU count, in ascending order", () => {
    const planned = planQueries({
      ...input("instance_cpu_usage", [], { label: "resource" }),
      values: [
        { value: "u1", vcpus: 4 },
        { value: "u2", vcpus: 1 },
        { value: "u3", vcpus: 4 },
      ],
    });
    expect(planned.map((q) => [q.values, q.promql])).toEqual([
      [
        ["u2"],
        "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource=~'u2'}[300s]))/10e+8) *(100/1), 100)",
      ],
      [
        ["u1", "u3"],
        "clamp_max((avg by (resource)(rate(ceilometer_cpu{resource=~'u1|u3'}[300s]))/10e+8) *(100/4), 100)",
      ],
    ]);
  });
});

describe("samplesByValue", () => {
  it("groups samples by the resource label and drops those without it", () => {
    const s = (labels: Record<string, string>) => ({ labels, timestamp: 1, value: "1" });
    const grouped = samplesByValue(
      [s({ fqdn: "a", job: "x" }), s({ job: "y" }), s({ fqdn: "a", job: "z" })],
      "fqdn",
    );
    expect([...grouped].map(([k, v]) => [k, v.length])).toEqual([["a", 2]]);
  });
});

describe("mapLimited", () => {
  it("keeps the order of the results and never runs more than the limit at once", async () => {
    let running = 0;
    let most = 0;
    const results = await mapLimited([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});
