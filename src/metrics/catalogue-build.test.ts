import { describe, expect, it } from "vitest";
import { buildCatalogue, type MetricOverride } from "./catalogue-build.js";
import { renderTemplate } from "./promql.js";

function override(name: string, options: Omit<Partial<MetricOverride>, "name" | "section">): MetricOverride {
  return { name, section: `metric.${name}`, sources: {}, ...options };
}

function built(...overrides: MetricOverride[]) {
  const result = buildCatalogue(overrides);
  return { ...result, get: (name: string) => result.metrics.find((m) => m.name === name) };
}

describe("overriding a built-in metric", () => {
  it("replaces the default series and nothing else of the query", () => {
    const c = built(override("instance_ram_usage", { series: "libvirt_domain_memory_usage" }));
    expect(c.problems).toEqual([]);
    const metric = c.get("instance_ram_usage");
    expect(metric?.origin).toBe("overridden");
    expect(metric?.series).toEqual(["libvirt_domain_memory_usage"]);
    expect(
      renderTemplate(metric?.template ?? "", { agg: "max", label: "uuid", value: "u-1", period: 600 }),
    ).toBe("max_over_time(libvirt_domain_memory_usage{uuid='u-1'}[600s])");
  });

  it("takes a whole template, a label, a unit and the min/max rule", () => {
    const template =
      "clamp_max(({{agg}} by ({{label}})(rate(libvirt_domain_info_cpu_time_seconds_total{{{matcher}}}[{{period}}s]))) *(100/{{vcpus}}), 100)";
    const c = built(
      override("instance_cpu_usage", { template, label: "uuid", unit: "%", invertMinMax: true }),
    );
    expect(c.problems).toEqual([]);
    const metric = c.get("instance_cpu_usage");
    expect(metric).toMatchObject({
      template,
      label: "uuid",
      invertMinMax: true,
      series: ["libvirt_domain_info_cpu_time_seconds_total"],
    });
  });

  it("refuses a series for host RAM, which reads two", () => {
    expect(built(override("host_ram_usage", { series: "x" })).problems).toEqual([
      "[metric.host_ram_usage] series: host_ram_usage reads several series (node_memory_MemTotal_bytes, node_memory_MemAvailable_bytes); replace its template instead",
    ]);
  });

  it("refuses series and template together, and another subject", () => {
    const problems = built(
      override("host_power", {
        series: "a",
        template: "a{{{matcher}}}",
        subject: "instance",
        sources: { subject: "watcher.conf:3" },
      }),
    ).problems;
    expect(problems).toEqual([
      "[metric.host_power] subject: host_power is a built-in host metric; an instance metric needs a name of its own [from watcher.conf:3]",
      "[metric.host_power] series: set series or template, not both (a template names its own series)",
    ]);
  });
});

describe("adding a metric", () => {
  it("uses every placeholder and lists the series it reads", () => {
    const template =
      "{{agg}} by ({{label}}) (rate(vm_cpu_seconds_total{{{matcher}}}[{{period}}s]) * 100 / {{vcpus}}) + on({{label}}) group_left {{agg}}_over_time(vm_steal{{{matcher}}}[{{period}}s])";
    const c = built(
      override("instance_cpu_steal", { template, subject: "instance", unit: "%", description: "steal" }),
    );
    expect(c.problems).toEqual([]);
    expect(c.get("instance_cpu_steal")).toMatchObject({
      subject: "instance",
      unit: "%",
      origin: "configured",
      series: ["vm_cpu_seconds_total", "vm_steal"],
      invertMinMax: false,
      seriesReplaceable: false,
    });
  });

  it("reports every missing piece of a new metric at once", () => {
    expect(built(override("gpu_power", { series: "dcgm_power" })).problems).toEqual([
      "[metric.gpu_power] template: required: gpu_power is not a built-in metric, so nothing says how to query it",
      "[metric.gpu_power] series: only replaces the series of a built-in metric; gpu_power is not one, its template names its series",
      "[metric.gpu_power] subject: required for a metric that is not built in: host or instance",
      "[metric.gpu_power] unit: required for a metric that is not built in, e.g. %, By, W or Cel",
    ]);
  });

  it.each([
    ["an unknown placeholder", "x{{{matcher}}} * {{factor}}", "unknown placeholder {{factor}}"],
    [
      "the internal series placeholder",
      "{{series}}{{{matcher}}}",
      "(a template writes its series names itself)",
    ],
    ["no matcher", "avg(x)", "must select the resource with {{matcher}}"],
    ["PromQL that does not parse", "sum(rate(x{{{matcher}}}[{{period}}s])", "does not parse as PromQL"],
    ["vcpus for a host", "x{{{matcher}}} / {{vcpus}}", "{{vcpus}} is only known for instance metrics"],
  ])("refuses %s", (_what, template, problem) => {
    const problems = built(override("host_x", { template, subject: "host", unit: "W" })).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("[metric.host_x] template: ");
    expect(problems[0]).toContain(problem);
  });

  it("refuses a template that reads no series by name", () => {
    const problems = built(
      override("host_x", {
        template: "count({__name__=~'node_.*',{{matcher}}})",
        subject: "host",
        unit: "1",
      }),
    ).problems;
    expect(problems).toEqual([
      "[metric.host_x] template: reads no series by name, so its availability cannot be told",
    ]);
  });

  it("counts {__name__='x'} as reading x", () => {
    const c = built(
      override("host_x", { template: "{__name__='x',{{matcher}}}", subject: "host", unit: "1" }),
    );
    expect(c.problems).toEqual([]);
    expect(c.get("host_x")?.series).toEqual(["x"]);
  });

  it("reports the problems of several sections together", () => {
    const c = built(
      override("a_one", { subject: "host", unit: "W" }),
      override("a_two", { template: "x{{{matcher}}}", unit: "W" }),
      override("host_cpu_usage", { series: "ok_series" }),
    );
    expect(c.problems).toHaveLength(2);
    expect(c.get("host_cpu_usage")?.series).toEqual(["ok_series"]);
  });
});
