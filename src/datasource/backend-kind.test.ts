import { describe, expect, it } from "vitest";
import { classifyBuildInfo } from "./backend-kind.js";

// What Prometheus 2.42 (Debian's) and VictoriaMetrics 1.79.5 (Debian's) answer, as captured.
const PROMETHEUS_BUILDINFO =
  '{"status":"success","data":{"version":"2.42.0+ds","revision":"2.42.0+ds-5+deb12u1","branch":"debian/sid","buildUser":"team+pkg-go@tracker.debian.org","buildDate":"20260604-00:58:54","goVersion":"go1.19.8"}}';
const VICTORIA_1_79_BUILDINFO = '{"status":"success","data":{}}';
const VICTORIA_LATER_BUILDINFO = '{"status":"success","data":{"version":"2.24.0"}}';

/** The envelope's `data`, as the Prometheus client hands it on. */
const dataOf = (answer: string): unknown => (JSON.parse(answer) as { data?: unknown }).data;

describe("classifyBuildInfo", () => {
  it("knows Prometheus by its version, revision and Go version", () => {
    expect(classifyBuildInfo({}, dataOf(PROMETHEUS_BUILDINFO))).toEqual({
      kind: "prometheus",
      version: "2.42.0+ds",
    });
  });

  it("knows VictoriaMetrics by its empty or version-only answer, or by its X-Server-Hostname header", () => {
    const vm = { kind: "victoriametrics", version: undefined };
    expect(classifyBuildInfo({ "x-server-hostname": "vm" }, dataOf(VICTORIA_1_79_BUILDINFO))).toEqual(vm);
    // Behind a proxy that drops the header, the body alone tells.
    expect(classifyBuildInfo({}, dataOf(VICTORIA_1_79_BUILDINFO))).toEqual(vm);
    expect(classifyBuildInfo({}, dataOf(VICTORIA_LATER_BUILDINFO))).toEqual(vm);
    expect(classifyBuildInfo({ "x-server-hostname": "vm" }, undefined)).toEqual(vm);
  });

  it("calls anything else unrecognised", () => {
    const unrecognised = { kind: "unrecognised", version: undefined };
    expect(classifyBuildInfo({}, { version: "1", application: "x" })).toEqual(unrecognised);
    expect(classifyBuildInfo({}, undefined)).toEqual(unrecognised);
    // A test double's answer: only a version, and not the one VictoriaMetrics claims.
    expect(classifyBuildInfo({}, { version: "fake" })).toEqual(unrecognised);
    expect(classifyBuildInfo({}, [])).toEqual(unrecognised);
  });
});
