import type { OptionReader } from "./options.js";

/** An HTTP field name: a token (RFC 9110 5.1, 5.6.2). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A field value this service sends: printable ASCII, spaces and tabs (no obs-text, no CR or LF). */
const HEADER_VALUE = /^[\t\x20-\x7e]+$/;
/**
 * Headers the HTTP client sets itself (host, the body's length and type, accept: the answer is
 * read as JSON), and those that concern one connection only (RFC 9110 7.6.1), which a proxy
 * drops: none can be configured.
 */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "accept",
  "expect",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/**
 * `[prometheus_client] request_headers`: `Name: value` entries separated by commas, or one per line
 * when the text spans lines (then a value may hold commas). The option is secret: problems name an
 * entry by its position, never by its text (a name is shown only when it is one of the reserved).
 * Names are kept in lower case; undefined when none is set.
 */
export function readRequestHeaders(r: OptionReader, basicAuth: boolean): Record<string, string> | undefined {
  const s = "prometheus_client";
  const text = r.string(s, "request_headers");
  if (text === undefined) return undefined;
  const entries = (/[\r\n]/.test(text) ? text.split(/\r?\n/) : text.split(","))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const headers = new Map<string, string>();
  entries.forEach((entry, index) => {
    const n = index + 1;
    const colon = entry.indexOf(":");
    const name = entry.slice(0, Math.max(colon, 0)).trim().toLowerCase();
    const value = entry.slice(colon + 1).trim();
    if (colon < 0) r.reject(s, "request_headers", `header ${n} is not written Name: value`);
    else if (!HEADER_NAME.test(name)) {
      r.reject(s, "request_headers", `header ${n}: the name is not an HTTP token (RFC 9110)`);
    } else if (RESERVED_HEADERS.has(name)) {
      r.reject(
        s,
        "request_headers",
        `header ${n}: ${name} is set by the client itself or concerns one connection only`,
      );
    } else if (name === "authorization" && basicAuth) {
      r.reject(
        s,
        "request_headers",
        `header ${n}: authorization would replace the basic auth of username and password; set one or the other`,
      );
    } else if (!HEADER_VALUE.test(value)) {
      r.reject(
        s,
        "request_headers",
        `header ${n}: the value is empty or holds a character other than printable ASCII, space and tab`,
      );
    } else if (headers.has(name)) {
      r.reject(s, "request_headers", `header ${n}: the same name is given twice`);
    } else headers.set(name, value);
  });
  return headers.size === 0 ? undefined : Object.fromEntries(headers);
}
