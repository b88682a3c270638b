/** The outcome of check-config, and its two renderings: an aligned table for people, JSON for programs. */

export type CheckStatus = "ok" | "failed" | "skipped";

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export interface CheckResult {
  /** What was checked: "configuration", "keystone", "hosts", "metric host_cpu_usage", … */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found, for a person; may hold several lines (every problem of a configuration). */
  readonly detail: string;
  /** The same facts for a program (hosts, values, queries); only in the JSON document. */
  readonly data?: JsonObject;
}

export interface CheckReport {
  readonly checks: readonly CheckResult[];
  /** 0: nothing failed; 1: a check failed; 2: the configuration is invalid. */
  readonly exitCode: 0 | 1 | 2;
}

export function ok(check: string, detail: string, data?: CheckResult["data"]): CheckResult {
  return data === undefined ? { check, status: "ok", detail } : { check, status: "ok", detail, data };
}

export function failed(check: string, detail: string, data?: CheckResult["data"]): CheckResult {
  return data === undefined ? { check, status: "failed", detail } : { check, status: "failed", detail, data };
}

export function skipped(check: string, detail: string): CheckResult {
  return { check, status: "skipped", detail };
}

/** A report whose exit code follows from its checks: 1 when any failed. */
export function reportOf(checks: readonly CheckResult[]): CheckReport {
  return { checks, exitCode: checks.some((c) => c.status === "failed") ? 1 : 0 };
}

export function countByStatus(checks: readonly CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { ok: 0, failed: 0, skipped: 0 };
  for (const c of checks) counts[c.status] += 1;
  return counts;
}

const HEADER = { check: "CHECK", status: "STATUS", detail: "DETAIL" };
const GAP = "  ";

/**
 * One row per check under a header, columns padded to the widest cell; a detail's further lines
 * start under the detail column. A summary line ends it.
 */
export function formatText(report: CheckReport): string {
  const rows = [HEADER, ...report.checks];
  const checkWidth = Math.max(...rows.map((r) => r.check.length));
  const statusWidth = Math.max(...rows.map((r) => r.status.length));
  const indent = " ".repeat(checkWidth + statusWidth + 2 * GAP.length);
  const lines = rows.map((row) => {
    const [first = "", ...more] = row.detail.split("\n");
    const head = `${row.check.padEnd(checkWidth)}${GAP}${row.status.padEnd(statusWidth)}${GAP}${first}`;
    return [head.trimEnd(), ...more.map((line) => `${indent}${line}`)].join("\n");
  });
  const counts = countByStatus(report.checks);
  const total = report.checks.length === 1 ? "1 check" : `${report.checks.length} checks`;
  const summary = `${total}: ${counts.ok} ok, ${counts.failed} failed, ${counts.skipped} skipped`;
  return `${lines.join("\n")}\n\n${summary}\n`;
}

/** The JSON document: what the table says, plus each check's data, and the exit code. */
export function formatJson(report: CheckReport, version: string): string {
  const document = {
    command: "check-config",
    version,
    ok: report.exitCode === 0,
    exitCode: report.exitCode,
    summary: countByStatus(report.checks),
    checks: report.checks,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Every string of the report with each of `secrets` blanked out. Nothing the checks write quotes a
 * secret (messages are built to be safe to show); this is the second line of defence, over
 * everything printed, as log.ts's redaction is for the log.
 */
export function withoutSecrets(report: CheckReport, secrets: readonly string[]): CheckReport {
  const present = secrets.filter((s) => s !== "");
  if (present.length === 0) return report;
  const text = (value: string) => present.reduce((t, secret) => t.split(secret).join("[redacted]"), value);
  const object = (value: JsonObject): JsonObject =>
    Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), json(v)]));
  const json = (value: JsonValue): JsonValue => {
    if (typeof value === "string") return text(value);
    if (isJsonArray(value)) return value.map(json);
    if (typeof value === "object" && value !== null) return object(value);
    return value;
  };
  const checks = report.checks.map((c): CheckResult => {
    const scrubbed = { check: text(c.check), status: c.status, detail: text(c.detail) };
    return c.data === undefined ? scrubbed : { ...scrubbed, data: object(c.data) };
  });
  return { checks, exitCode: report.exitCode };
}

// Array.isArray does not narrow a readonly array type.
function isJsonArray(value: JsonValue): value is readonly JsonValue[] {
  return Array.isArray(value);
}
