import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { MetricsAccessError } from "../errors.js";
import { Aggregate, Subject } from "../gen/metricsaccess/v1/metrics_pb.js";
import {
  aggregate,
  decodePageToken,
  encodePageToken,
  granularity,
  metricName,
  pageSize,
  period,
  requiredName,
  subjectFilter,
} from "./request-validation.js";

const DAY = 24 * 3600;

function duration(seconds: bigint | number, nanos = 0): Duration {
  return create(DurationSchema, { seconds: BigInt(seconds), nanos });
}

/** Runs fn, expects an invalid_argument MetricsAccessError for `field`, and returns it. */
function invalid(field: string, fn: () => unknown): MetricsAccessError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MetricsAccessError);
  const err = caught as MetricsAccessError;
  expect(err.code).toBe("invalid_argument");
  expect(err.field).toBe(field);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  return err;
}

describe("requiredName", () => {
  it("returns a valid name unchanged", () => {
    expect(requiredName("host", "c1.example.com")).toBe("c1.example.com");
    expect(requiredName("host", "hôte-😀")).toBe("hôte-😀");
  });

  it("rejects an empty name", () => {
    expect(invalid("host", () => requiredName("host", "")).message).toMatch(/required/);
  });

  it("accepts 255 characters and rejects 256, naming the limit", () => {
    expect(requiredName("host", "a".repeat(255))).toHaveLength(255);
    expect(invalid("host", () => requiredName("host", "a".repeat(256))).message).toBe(
      "host: at most 255 characters",
    );
  });

  it.each([
    ["a lone high surrogate", "host\uD800"],
    ["a lone low surrogate", "\uDC00host"],
    ["two high surrogates", "\uD800\uD800\uDC00"],
  ])("rejects %s", (_name, value) => {
    expect(invalid("instance_id", () => requiredName("instance_id", value)).message).toMatch(/Unicode/);
  });

  it("names the field it was given", () => {
    invalid("instance_id", () => requiredName("instance_id", ""));
  });
});

describe("metric, subject and aggregate", () => {
  it("passes a metric name through for the catalogue to judge", () => {
    expect(metricName("host_cpu_usage")).toBe("host_cpu_usage");
    expect(metricName("my_own_metric")).toBe("my_own_metric");
  });

  it("requires a metric", () => {
    expect(invalid("metric", () => metricName("")).message).toBe("metric: required");
  });

  it("maps the ListMetrics subject filter, unspecified meaning every subject", () => {
    expect(subjectFilter(Subject.UNSPECIFIED)).toBeUndefined();
    expect(subjectFilter(Subject.HOST)).toBe("host");
    expect(subjectFilter(Subject.INSTANCE)).toBe("instance");
    expect(invalid("subject", () => subjectFilter(7 as Subject)).message).toContain("7");
  });

  it("maps aggregates to Watcher's, unspecified meaning mean", () => {
    expect(aggregate(Aggregate.UNSPECIFIED)).toBe("mean");
    expect(aggregate(Aggregate.MEAN)).toBe("mean");
    expect(aggregate(Aggregate.MAX)).toBe("max");
    expect(aggregate(Aggregate.MIN)).toBe("min");
    expect(aggregate(Aggregate.COUNT)).toBe("count");
  });

  it("rejects aggregate numbers it does not know", () => {
    expect(invalid("aggregate", () => aggregate(99 as Aggregate)).message).toContain("99");
  });
});

describe("period", () => {
  it("defaults to 300 s when unset or zero, as in Watcher", () => {
    expect(period(undefined)).toBe(300);
    expect(period(duration(0))).toBe(300);
  });

  it("returns whole seconds as a number", () => {
    expect(period(duration(1))).toBe(1);
    expect(period(duration(444))).toBe(444);
  });

  it("accepts 366 days and rejects one second more", () => {
    expect(period(duration(366 * DAY))).toBe(31_622_400);
    expect(invalid("period", () => period(duration(366 * DAY + 1))).message).toBe(
      "period: at most 31622400 s (366 days)",
    );
  });

  it.each([
    ["negative seconds", duration(-1)],
    ["negative nanos", duration(0, -1)],
    ["fractional seconds", duration(300, 500_000_000)],
    ["nanos only", duration(0, 1)],
    ["huge", duration(1_000_000_000_000_000n)],
    ["beyond int64 range as a bigint", duration(2n ** 70n)],
  ])("rejects %s", (_name, value) => {
    invalid("period", () => period(value));
  });
});

describe("granularity", () => {
  it("accepts unset, zero and positive values (it is ignored, as in Watcher)", () => {
    expect(() => granularity(undefined)).not.toThrow();
    expect(() => granularity(duration(0))).not.toThrow();
    expect(() => granularity(duration(200))).not.toThrow();
    expect(() => granularity(duration(1, 5))).not.toThrow();
  });

  it("rejects a negative value", () => {
    invalid("granularity", () => granularity(duration(-300)));
    invalid("granularity", () => granularity(duration(0, -1)));
  });
});

describe("page size", () => {
  it("uses 100 for zero", () => {
    expect(pageSize(0)).toBe(100);
  });

  it("keeps sizes from 1 to 1000 and lowers larger ones to 1000 (AIP-158: a limit, not a refusal)", () => {
    expect(pageSize(1)).toBe(1);
    expect(pageSize(1000)).toBe(1000);
    expect(pageSize(5000)).toBe(1000);
    expect(pageSize(2 ** 31 - 1)).toBe(1000);
  });

  it("rejects a negative size", () => {
    invalid("page_size", () => pageSize(-1));
  });
});

describe("page tokens", () => {
  it("encodes no continuation as the empty token and decodes it back", () => {
    expect(encodePageToken(undefined)).toBe("");
    expect(decodePageToken("")).toBeUndefined();
  });

  it.each(["c1.example.com", "", 'it\'s "odd" {}\\ 主机 😀', "a".repeat(255)])("round-trips %j", (after) => {
    const token = encodePageToken(after);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token)).toBe(after);
  });

  it.each([
    ["garbage", "!!!not a token!!!"],
    ["base64 of plain text", Buffer.from("hello").toString("base64url")],
    ["JSON of the wrong shape", Buffer.from(JSON.stringify({ after: "x" })).toString("base64url")],
    ["a future version", Buffer.from(JSON.stringify({ v: 2, after: "x" })).toString("base64url")],
    ["a non-string value", Buffer.from(JSON.stringify({ v: 1, after: 7 })).toString("base64url")],
    ["JSON null", Buffer.from("null").toString("base64url")],
  ])("rejects %s", (_name, token) => {
    invalid("page_token", () => decodePageToken(token));
  });
});
