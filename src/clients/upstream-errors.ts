import { errorCodeOf, MetricsAccessError } from "../errors.js";

/** Which upstream answered: it names it in messages and selects its error semantics. */
export type UpstreamName = "Prometheus" | "Aetos";

/**
 * Turns an HTTP answer other than a success envelope into a typed error. The message the caller
 * sees names the upstream, the endpoint and the HTTP status; the upstream's own error text (which
 * may quote the query but never credentials) is kept in `cause` for the log.
 */
export function upstreamDetail(
  upstream: UpstreamName,
  endpoint: string,
  status: number,
  body: unknown,
  text: string,
): MetricsAccessError {
  const detail = describeBody(body, text);
  const cause = new Error(`${upstream} ${endpoint}: HTTP ${status}: ${detail}`);
  const at = `${upstream} answered HTTP ${status} to ${endpoint}`;
  if (status === 401) {
    const message =
      upstream === "Aetos"
        ? `${at}: the service's Keystone token was not accepted`
        : `${at}: check [prometheus_client] username and password, or request_headers`;
    return new MetricsAccessError("unavailable", message, { reason: "UPSTREAM_UNAUTHORIZED", cause });
  }
  if (status === 403) {
    const message =
      upstream === "Aetos"
        ? `${at}: the service's Keystone credentials need the admin or service role in their project`
        : `${at}: the configured credentials are not allowed`;
    return new MetricsAccessError("unavailable", message, { reason: "UPSTREAM_FORBIDDEN", cause });
  }
  // Go's net/http (Prometheus, exporter-toolkit) answers plain http sent to its TLS port with this
  // 400 before any API handler runs: the query was never seen, the scheme is wrong.
  if (status === 400 && text.includes("Client sent an HTTP request to an HTTPS server")) {
    const hint = upstream === "Aetos" ? "the catalog endpoint" : "[prometheus_client] use_tls or cafile";
    return new MetricsAccessError("unavailable", `${upstream} expects https on that port: check ${hint}`, {
      reason: "UPSTREAM_EXPECTS_TLS",
      cause,
    });
  }
  if (status === 400 || status === 422) {
    const kind = status === 400 ? "rejected" : "could not execute";
    return new MetricsAccessError(
      "internal",
      `${upstream} ${kind} the query this service built (HTTP ${status})`,
      {
        reason: "UPSTREAM_REJECTED_QUERY",
        cause,
      },
    );
  }
  if (status === 404) {
    const hint = upstream === "Aetos" ? "the catalog endpoint" : "[prometheus_client] root_path";
    return new MetricsAccessError("unavailable", `${at}: check ${hint}`, {
      reason: "UPSTREAM_NOT_FOUND",
      cause,
    });
  }
  // Prometheus's own timeout (the `timeout` sent from the caller's deadline, or its
  // --query.timeout), passed on by Aetos as a 503 fault with the same words: the query was too
  // slow for the time it had, which a retry will not change.
  if (status === 503 && detail.includes("query timed out")) {
    return new MetricsAccessError(
      "deadline_exceeded",
      `${upstream} stopped evaluating the query when its time ran out (the caller's deadline, or Prometheus's --query.timeout)`,
      { reason: "UPSTREAM_TIMEOUT", cause },
    );
  }
  if (status === 200) {
    return new MetricsAccessError(
      "unavailable",
      `${upstream} answered ${endpoint} without a success envelope`,
      {
        reason: "UPSTREAM_MALFORMED",
        cause,
      },
    );
  }
  return new MetricsAccessError("unavailable", at, { reason: "UPSTREAM_FAILED", cause });
}

/** A request that got no HTTP answer: refused, reset, timed out, TLS failure. */
export function transportError(
  upstream: UpstreamName | "Keystone",
  endpoint: string,
  err: unknown,
  timeoutMs: number,
): MetricsAccessError {
  const code = errorCodeOf(err, "UNKNOWN");
  const message =
    code === "CONNECT_TIMEOUT"
      ? `${upstream} did not accept a connection for ${endpoint} in time`
      : code === "HEADERS_TIMEOUT" || code === "BODY_TIMEOUT"
        ? `${upstream} did not answer ${endpoint} within ${timeoutMs / 1000} s`
        : code === "RESPONSE_TOO_LARGE"
          ? `${upstream} sent an answer to ${endpoint} larger than this service reads`
          : `${upstream} could not be reached for ${endpoint} (${code})`;
  return new MetricsAccessError("unavailable", message, { reason: "UPSTREAM_UNREACHABLE", cause: err });
}

function describeBody(body: unknown, text: string): string {
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.error === "string") return `${String(b.errorType ?? "error")}: ${b.error}`;
    const nested = b.error as Record<string, unknown> | undefined;
    if (nested && typeof nested.message === "string") return nested.message;
    const em = b.error_message;
    if (typeof em === "string") return em;
    if (typeof em === "object" && em !== null) {
      const fault = em as Record<string, unknown>;
      return `${String(fault.faultcode ?? "")}: ${String(fault.faultstring ?? "")}`;
    }
  }
  return text.slice(0, 300);
}
