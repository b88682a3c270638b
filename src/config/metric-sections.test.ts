import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./load.js";
import type { Config } from "./types.js";

const CONF = "/etc/watcher/watcher.conf";
const PROM = "[prometheus_client]\nhost = prom.example.com\n";

function load(text: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    argv: ["--config-file", CONF],
    env,
    readFile: (path) => {
      if (path !== CONF) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return Buffer.from(PROM + text, "utf8");
    },
  });
}

function problems(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    load(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

const metric = (config: Config, name: string) => config.metrics.find((m) => m.name === name);

describe("[metric.<name>] sections", () => {
  it("leave the eleven built-ins as they are when absent", () => {
    const config = load("");
    expect(config.metrics).toHaveLength(11);
    expect(config.metrics.every((m) => m.origin === "built_in")).toBe(true);
    expect(Object.isFrozen(config.metrics[0])).toBe(true);
  });

  it("replace a built-in's series, label and unit, and add the operator's own metric", () => {
    const config = load(
      [
        "[metric.host_power]",
        "series = ipmi_dcmi_power_consumption_watts",
        "label = node",
        "[metric.host_gpu_power]",
        "subject = host",
        "unit = W",
        "description = GPU board power",
        "template = sum by ({{label}}) ({{agg}}_over_time(DCGM_FI_DEV_POWER_USAGE{{{matcher}}}[{{period}}s]))",
        "",
      ].join("\n"),
    );
    expect(metric(config, "host_power")).toMatchObject({
      origin: "overridden",
      series: ["ipmi_dcmi_power_consumption_watts"],
      label: "node",
      unit: "W",
    });
    expect(metric(config, "host_gpu_power")).toMatchObject({
      origin: "configured",
      subject: "host",
      unit: "W",
      description: "GPU board power",
      series: ["DCGM_FI_DEV_POWER_USAGE"],
    });
  });

  it("come from METRICS_ACCESS__METRIC__<NAME>__<OPTION> too, which wins over the file", () => {
    const config = load("[metric.instance_ram_allocated]\nseries = from_file\n", {
      METRICS_ACCESS__METRIC__INSTANCE_RAM_ALLOCATED__SERIES: "from_env",
      METRICS_ACCESS__METRIC__INSTANCE_ROOT_DISK_SIZE__LABEL: "uuid",
    });
    expect(metric(config, "instance_ram_allocated")?.series).toEqual(["from_env"]);
    expect(metric(config, "instance_root_disk_size")?.label).toBe("uuid");
  });

  it("report every invalid form at once, each naming the metric's section and the option", () => {
    const found = problems(
      [
        "[metric.host_power]",
        "series = not a name",
        "[metric.instance_cpu_usage]",
        "template = clamp_max(rate(ceilometer_cpu{{{matcher}}}[{{period}}s]) * {{cores}}, 100)",
        "[metric.host_new]",
        "template = avg(x{{{matcher}}}",
        "subject = host",
        "unit = W",
        "[metric.instance_new]",
        "template = y{{{matcher}}}",
        "[metric.host_cpu_usage]",
        "subject = instance",
        "[metric.Bad-Name]",
        "unit = W",
        "[metric.host_inlet_temp]",
        "colour = blue",
        "invert_min_max = maybe",
        "",
      ].join("\n"),
      { METRICS_ACCESS__METRIC__HOST_AIRFLOW__LABEL: "1abc" },
    );
    expect(found).toEqual([
      '[metric.host_power] series "not a name": must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) [from /etc/watcher/watcher.conf:4]',
      "[metric.Bad-Name]: a metric name is 1 to 64 lower-case letters, digits and _, starting with a letter",
      "[metric.host_inlet_temp] colour: unknown option (known: series, template, subject, unit, label, invert_min_max, description) [from /etc/watcher/watcher.conf:18]",
      '[metric.host_inlet_temp] invert_min_max "maybe": must be true or false [from /etc/watcher/watcher.conf:19]',
      '[metric.host_airflow] label "1abc": must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*) [from environment METRICS_ACCESS__METRIC__HOST_AIRFLOW__LABEL]',
      "[metric.host_cpu_usage] subject: host_cpu_usage is a built-in host metric; an instance metric needs a name of its own [from /etc/watcher/watcher.conf:14]",
      "[metric.instance_cpu_usage] template: unknown placeholder {{cores}}; known: {{matcher}}, {{label}}, {{agg}}, {{period}}, {{vcpus}} [from /etc/watcher/watcher.conf:6]",
      expect.stringMatching(
        /^\[metric\.host_new\] template: does not parse as PromQL at character \d+ .* once its placeholders are filled in \[from \/etc\/watcher\/watcher\.conf:8\]$/,
      ),
      "[metric.instance_new] subject: required for a metric that is not built in: host or instance",
      "[metric.instance_new] unit: required for a metric that is not built in, e.g. %, By, W or Cel",
    ]);
  });

  it("refuses an environment variable that names no metric option", () => {
    expect(problems("", { METRICS_ACCESS__METRIC__HOST_POWER__SERIESS: "x" })).toEqual([
      "environment METRICS_ACCESS__METRIC__HOST_POWER__SERIESS: no such option (the rule is METRICS_ACCESS__<SECTION>__<OPTION>)",
    ]);
  });
});
