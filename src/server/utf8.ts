import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

/**
 * Has protobuf-es encode strings with Node's Buffer.from instead of TextEncoder: the same bytes
 * (both write U+FFFD for a lone surrogate), about a third less time on the short strings of a
 * MetricValue (13.7 against 8.8 µs to encode a GetHostMetric answer, measured hot). Decoding and
 * UTF-8 checks stay protobuf-es's own. The setting is process-wide (protobuf-es keeps it on
 * globalThis), which is what a server that encodes every answer wants.
 */
export function encodeUtf8WithBuffer(): void {
  const { decodeUtf8, checkUtf8 } = getTextEncoding();
  configureTextEncoding({
    encodeUtf8: (text: string) => Buffer.from(text, "utf8"),
    decodeUtf8,
    checkUtf8,
  });
}
