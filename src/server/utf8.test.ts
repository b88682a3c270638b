import { create, toBinary } from "@bufbuild/protobuf";
import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";
import { afterAll, describe, expect, it } from "vitest";
import { MetricValueSchema } from "../gen/metricsaccess/v1/metrics_pb.js";
import { encodeUtf8WithBuffer } from "./utf8.js";

const original = getTextEncoding();
afterAll(() => configureTextEncoding(original));

describe("protobuf strings encoded with Buffer", () => {
  it("gives the bytes TextEncoder gives, non-ASCII and lone surrogates included", () => {
    const value = create(MetricValueSchema, {
      metric: "host_cpu_usage",
      labelValue: "hôte-ü.example \u{1F600}",
      query: 'avg(x{fqdn="\uD800"})',
      unit: "%",
    });
    const withTextEncoder = toBinary(MetricValueSchema, value);
    encodeUtf8WithBuffer();
    expect(getTextEncoding().encodeUtf8("\uD800")).toEqual(Buffer.from([0xef, 0xbf, 0xbd]));
    expect(Buffer.from(toBinary(MetricValueSchema, value))).toEqual(Buffer.from(withTextEncoder));
  });
});
