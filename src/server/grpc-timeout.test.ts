import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { MAX_TIMER_MS, parseGrpcTimeout } from "./grpc-timeout.js";

describe("parseGrpcTimeout", () => {
  it("has no deadline without the header", () => {
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });

  it("reads every unit of the spec: H M S m u n", () => {
    expect(parseGrpcTimeout("2H")).toBe(7_200_000);
    expect(parseGrpcTimeout("3M")).toBe(180_000);
    expect(parseGrpcTimeout("4S")).toBe(4_000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("1500u")).toBeCloseTo(1.5, 9);
    expect(parseGrpcTimeout("2500000n")).toBeCloseTo(2.5, 9);
    expect(parseGrpcTimeout("0m")).toBe(0);
  });

  it("takes up to 8 digits; the longest exceeds what a timer can wait", () => {
    expect(parseGrpcTimeout("99999999S")).toBe(99_999_999_000);
    expect(parseGrpcTimeout("99999999H")).toBeGreaterThan(MAX_TIMER_MS);
  });

  it("refuses malformed values with INVALID_ARGUMENT", () => {
    for (const value of ["", "10", "m", "10s", "10 m", " 10m", "-1m", "1.5S", "123456789m", "10mm", "10X"]) {
      let err: unknown;
      try {
        parseGrpcTimeout(value);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(value)).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    }
    expect(() => parseGrpcTimeout(["1S", "2S"])).toThrow(ConnectError);
  });
});
