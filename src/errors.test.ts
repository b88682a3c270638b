import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_REASONS, STARTUP_ONLY_REASONS } from "./errors.js";

describe("ErrorInfo reasons", () => {
  const proto = readFileSync(new URL("../proto/metricsaccess/v1/metrics.proto", import.meta.url), "utf8");
  const serviceComment = proto.slice(0, proto.indexOf("service MetricsService {"));
  const listed = new Set(serviceComment.match(/\b[A-Z]+(?:_[A-Z]+)+\b/g) ?? []);
  const statusCodes = new Set([
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "DEADLINE_EXCEEDED",
  ]);

  it("lists every reason a caller can receive in the proto's service comment", () => {
    const reachable = ERROR_REASONS.filter((r) => !STARTUP_ONLY_REASONS.has(r));
    expect(reachable.filter((r) => !listed.has(r))).toEqual([]);
  });

  it("lists no reason the service does not send", () => {
    const known = new Set<string>(ERROR_REASONS);
    const unknown = [...listed].filter((r) => !known.has(r) && !statusCodes.has(r));
    expect(unknown).toEqual([]);
  });

  it("keeps start-up-only reasons out of what a caller is promised", () => {
    for (const reason of STARTUP_ONLY_REASONS) expect(listed.has(reason)).toBe(false);
  });
});
