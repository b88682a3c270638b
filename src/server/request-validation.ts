import type { Duration } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../errors.js";
import { Aggregate, Subject } from "../gen/metricsaccess/v1/metrics_pb.js";
import type { Subject as DomainSubject } from "../metrics/catalogue.js";
import type { Aggregate as DomainAggregate } from "../metrics/service.js";

export const DEFAULT_PERIOD_SECONDS = 300;
export const MAX_PERIOD_SECONDS = 366 * 24 * 3600;
export const MAX_NAME_LENGTH = 255;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** A UTF-16 half without its other half cannot be sent as UTF-8 to Prometheus. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const AGGREGATES: Partial<Record<Aggregate, DomainAggregate>> = {
  [Aggregate.UNSPECIFIED]: "mean",
  [Aggregate.MEAN]: "mean",
  [Aggregate.MAX]: "max",
  [Aggregate.MIN]: "min",
  [Aggregate.COUNT]: "count",
};

const SUBJECTS: Partial<Record<Subject, DomainSubject>> = {
  [Subject.HOST]: "host",
  [Subject.INSTANCE]: "instance",
};

/** A required name (host or instance id): present, well-formed Unicode, not absurdly long. */
export function requiredName(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "required");
  if (value.length > MAX_NAME_LENGTH) throw invalidArgument(field, `at most ${MAX_NAME_LENGTH} characters`);
  if (LONE_SURROGATE.test(value)) throw invalidArgument(field, "not valid Unicode");
  return value;
}

/** A metric's name: present and sane; whether the catalogue knows it is the service's to say. */
export function metricName(value: string): string {
  return requiredName("metric", value);
}

/** A batch's metric names: at least one, each present and sane. */
export function metricNames(values: readonly string[]): string[] {
  if (values.length === 0) throw invalidArgument("metrics", "at least one metric is required");
  return values.map((value, i) => requiredName(`metrics[${i}]`, value));
}

/** The subject filter of ListMetrics; unset means every subject. */
export function subjectFilter(value: Subject): DomainSubject | undefined {
  if (value === Subject.UNSPECIFIED) return undefined;
  return SUBJECTS[value] ?? unknownEnum("subject", value);
}

export function aggregate(value: Aggregate): DomainAggregate {
  return AGGREGATES[value] ?? unknownEnum("aggregate", value);
}

/** Whole seconds from 1 s to 366 days; unset or zero means the default 300 s, as in Watcher. */
export function period(value: Duration | undefined): number {
  if (value === undefined || (value.seconds === 0n && value.nanos === 0)) return DEFAULT_PERIOD_SECONDS;
  if (value.seconds < 0n || value.nanos < 0) throw invalidArgument("period", "must be positive");
  if (value.nanos !== 0) throw invalidArgument("period", "must be whole seconds");
  if (value.seconds > BigInt(MAX_PERIOD_SECONDS)) {
    throw invalidArgument("period", `at most ${MAX_PERIOD_SECONDS} s (366 days)`);
  }
  return Number(value.seconds);
}

/** Accepted for parity and ignored, as Watcher ignores it; a negative one is still a mistake. */
export function granularity(value: Duration | undefined): void {
  if (value !== undefined && (value.seconds < 0n || value.nanos < 0)) {
    throw invalidArgument("granularity", "must not be negative");
  }
}

/** Zero means the default; above the maximum is lowered to it, as AIP-158 suggests. */
export function pageSize(value: number): number {
  if (value < 0) throw invalidArgument("page_size", "must not be negative");
  if (value === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(value, MAX_PAGE_SIZE);
}

/** Page tokens are base64url JSON naming the last label value served. */
export function encodePageToken(after: string | undefined): string {
  return after === undefined ? "" : Buffer.from(JSON.stringify({ v: 1, after })).toString("base64url");
}

export function decodePageToken(token: string): string | undefined {
  if (token === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && "v" in parsed && "after" in parsed) {
      if (parsed.v === 1 && typeof parsed.after === "string") return parsed.after;
    }
  } catch {
    // falls through to the error below
  }
  throw invalidArgument("page_token", "not a token this service issued");
}

function unknownEnum(field: string, value: number): never {
  throw invalidArgument(field, `unknown value ${value}`);
}
