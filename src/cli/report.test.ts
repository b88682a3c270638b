import { describe, expect, it } from "vitest";
import {
  type CheckReport,
  failed,
  formatJson,
  formatText,
  ok,
  reportOf,
  skipped,
  withoutSecrets,
} from "./report.js";

const REPORT = reportOf([
  ok("configuration", "valid; datasource prometheus at http://127.0.0.1:9090"),
  ok("prometheus", "answered GET /api/v1/status/buildinfo"),
  ok("metric host_cpu_usage", "31.25 % for compute-1.example", { value: 31.25, unit: "%" }),
  skipped("metric host_power", "Prometheus does not hold ceilometer_hardware_ipmi_node_power"),
]);

describe("formatText", () => {
  it("aligns check, status and detail under a header and ends with a summary", () => {
    expect(formatText(REPORT)).toBe(
      [
        "CHECK                  STATUS   DETAIL",
        "configuration          ok       valid; datasource prometheus at http://127.0.0.1:9090",
        "prometheus             ok       answered GET /api/v1/status/buildinfo",
        "metric host_cpu_usage  ok       31.25 % for compute-1.example",
        "metric host_power      skipped  Prometheus does not hold ceilometer_hardware_ipmi_node_power",
        "",
        "4 checks: 3 ok, 0 failed, 1 skipped",
        "",
      ].join("\n"),
    );
  });

  it("puts a detail's further lines under the detail column", () => {
    const report: CheckReport = {
      checks: [failed("configuration", "invalid configuration, 2 problems:\n- [a] b: bad\n- [c] d: worse")],
      exitCode: 2,
    };
    expect(formatText(report).split("\n")).toEqual([
      "CHECK          STATUS  DETAIL",
      "configuration  failed  invalid configuration, 2 problems:",
      "                       - [a] b: bad",
      "                       - [c] d: worse",
      "",
      "1 check: 0 ok, 1 failed, 0 skipped",
      "",
    ]);
  });
});

describe("reportOf", () => {
  it("exits 1 when a check failed, 0 when every check is ok or skipped", () => {
    expect(REPORT.exitCode).toBe(0);
    expect(reportOf([...REPORT.checks, failed("hosts", "no host")]).exitCode).toBe(1);
  });
});

describe("formatJson", () => {
  it("carries the checks with their data, the counts, the version and the exit code", () => {
    const document = JSON.parse(formatJson(REPORT, "9.9.9")) as Record<string, unknown>;
    expect(document).toEqual({
      command: "check-config",
      version: "9.9.9",
      ok: true,
      exitCode: 0,
      summary: { ok: 3, failed: 0, skipped: 1 },
      checks: [
        {
          check: "configuration",
          status: "ok",
          detail: "valid; datasource prometheus at http://127.0.0.1:9090",
        },
        { check: "prometheus", status: "ok", detail: "answered GET /api/v1/status/buildinfo" },
        {
          check: "metric host_cpu_usage",
          status: "ok",
          detail: "31.25 % for compute-1.example",
          data: { value: 31.25, unit: "%" },
        },
        {
          check: "metric host_power",
          status: "skipped",
          detail: "Prometheus does not hold ceilometer_hardware_ipmi_node_power",
        },
      ],
    });
  });
});

describe("withoutSecrets", () => {
  it("blanks every secret in details and data, nested too, and leaves the rest", () => {
    const report = reportOf([
      failed("keystone", "refused s3cr3t-pw twice: s3cr3t-pw", {
        nested: { list: ["x s3cr3t-pw y", 1, null] },
      }),
      ok("hosts", "nothing secret"),
    ]);
    const scrubbed = withoutSecrets(report, ["s3cr3t-pw", ""]);
    expect(JSON.stringify(scrubbed)).not.toContain("s3cr3t-pw");
    expect(scrubbed.checks[0]).toEqual({
      check: "keystone",
      status: "failed",
      detail: "refused [redacted] twice: [redacted]",
      data: { nested: { list: ["x [redacted] y", 1, null] } },
    });
    expect(scrubbed.checks[1]).toEqual(report.checks[1]);
    expect(scrubbed.exitCode).toBe(1);
  });
});
