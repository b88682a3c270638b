import type { IncomingHttpHeaders } from "node:http";
import type { TlsMaterial } from "../config/types.js";
import { MetricsAccessError } from "../errors.js";
import { HttpOrigin } from "./http-origin.js";
import { transportError, type UpstreamName, upstreamDetail } from "./upstream-errors.js";
import { measured, type UpstreamObserver } from "./upstream-observer.js";

/** One element of an instant vector, as Prometheus returns it. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  /** Evaluation time, Unix seconds. */
  readonly timestamp: number;
  /** Prometheus sends the value as a string ("NaN", "+Inf" included). */
  readonly value: string;
}

/** One entry of GET /api/v1/targets?state=active. */
export interface ActiveTarget {
  /** The target's labels after relabelling (not discoveredLabels). */
  readonly labels: Readonly<Record<string, string>>;
  readonly health: string;
}

export interface PrometheusHttpOptions {
  /** Names the upstream in error messages and selects its error semantics. */
  readonly upstream: UpstreamName;
  /** scheme://host:port */
  readonly origin: string;
  /** "" or "/prefix". */
  readonly rootPath: string;
  readonly tls: TlsMaterial | undefined;
  readonly timeoutMs: number;
  /** Sent as Authorization on every request (basic auth for direct Prometheus). */
  readonly authorization?: string | undefined;
  /**
   * Sent on every request (`[prometheus_client] request_headers`: a tenant header, a token).
   * Secret: their values are blanked out of the upstream's words before they reach an error.
   */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Told of every request's outcome and duration (the self-metrics), labelled with the upstream. */
  readonly observe?: UpstreamObserver | undefined;
  /**
   * POST an instant query as a form body once its encoded form is longer than this: a long URL
   * costs Prometheus more to read. Unset: always GET (Aetos takes GET only).
   */
  readonly postQueriesAbove?: number | undefined;
}

export interface RequestOptions {
  readonly signal?: AbortSignal | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface QueryRequestOptions extends RequestOptions {
  /** Evaluation time, Unix seconds; unset: the server's "now", as Watcher sends it. */
  readonly time?: number | undefined;
  /**
   * Prometheus's own `timeout` parameter, in seconds: Prometheus stops evaluating the query then,
   * even when the abandoned request's end does not reach it (a proxy between). Unset: none is sent,
   * only Prometheus's --query.timeout applies.
   */
  readonly timeoutSeconds?: number | undefined;
}

/** The length `text` takes as a URL query parameter value (form encoding is per character). */
export function urlEncodedLength(text: string): number {
  return new URLSearchParams({ q: text }).toString().length - 2;
}

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * The Prometheus HTTP API (GET; POST for long queries where allowed, since Aetos has no POST forms),
 * over keep-alive connections. Failures come out as MetricsAccessError with messages that carry no
 * URL, token or password; the upstream's own words go into `cause`, for the log.
 */
export class PrometheusHttpClient {
  readonly #options: PrometheusHttpOptions;
  readonly #http: HttpOrigin;

  constructor(options: PrometheusHttpOptions) {
    this.#options = options;
    this.#http = new HttpOrigin({
      origin: options.origin,
      tls: options.tls,
      connectTimeoutMs: Math.min(options.timeoutMs, 10_000),
      timeoutMs: options.timeoutMs,
      maxSockets: 32,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      idleTimeoutMs: 10_000,
    });
  }

  /**
   * /api/v1/query: an instant query, by GET as Watcher sends it, or POSTed as a form (long batch
   * queries: Prometheus takes both).
   */
  async query(promql: string, options: QueryRequestOptions = {}): Promise<Sample[]> {
    const params: Record<string, string> = { query: promql };
    if (options.time !== undefined) params.time = String(options.time);
    if (options.timeoutSeconds !== undefined) params.timeout = String(options.timeoutSeconds);
    const { data } = await this.#request("query", params, options, this.#options.postQueriesAbove);
    if (!isRecord(data) || data.resultType !== "vector" || !Array.isArray(data.result)) {
      throw malformed(this.#options.upstream, "query result is not an instant vector");
    }
    return data.result.map((item: unknown) => {
      const value = isRecord(item) ? item.value : undefined;
      if (!isRecord(item) || !Array.isArray(value) || typeof value[1] !== "string") {
        throw malformed(this.#options.upstream, "vector element without a [time, value] pair");
      }
      return { labels: stringRecord(item.metric), timestamp: Number(value[0]), value: value[1] };
    });
  }

  /** GET /api/v1/targets?state=active. */
  async activeTargets(options: RequestOptions = {}): Promise<ActiveTarget[]> {
    const { data } = await this.#request("targets", { state: "active" }, options);
    if (!isRecord(data) || !Array.isArray(data.activeTargets)) {
      throw malformed(this.#options.upstream, "targets answer without activeTargets");
    }
    return data.activeTargets.map((t: unknown) => ({
      labels: stringRecord(isRecord(t) ? t.labels : undefined),
      health: isRecord(t) && typeof t.health === "string" ? t.health : "unknown",
    }));
  }

  /** GET /api/v1/label/__name__/values: every series name the server holds (Watcher's list_metrics). */
  async seriesNames(options: RequestOptions = {}): Promise<string[]> {
    const { data } = await this.#request("label/__name__/values", {}, options);
    if (!Array.isArray(data) || !data.every((name) => typeof name === "string")) {
      throw malformed(this.#options.upstream, "label values answer is not a list of strings");
    }
    return data;
  }

  /**
   * GET /api/v1/status/buildinfo: the cheapest answer that proves Prometheus serves its API, and
   * what tells Prometheus from other servers of the same API (datasource/backend-kind.ts).
   */
  buildInfo(options: RequestOptions = {}): Promise<ApiAnswer> {
    return this.#request("status/buildinfo", {}, options);
  }

  /**
   * GET /api/v1/<endpoint>, or POST with the same parameters as a form body when they encode longer
   * than `postAbove`; returns the envelope's `data` and the answer's headers.
   */
  async #request(
    endpoint: string,
    params: Record<string, string>,
    options: RequestOptions,
    postAbove?: number,
  ): Promise<ApiAnswer> {
    const { upstream, rootPath, authorization } = this.#options;
    const query = new URLSearchParams(params).toString();
    const post = postAbove !== undefined && query.length > postAbove;
    const path = `${rootPath}/api/v1/${endpoint}${query === "" || post ? "" : `?${query}`}`;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": "metrics-access",
      ...this.#options.headers,
      ...options.headers,
    };
    if (post) headers["content-type"] = "application/x-www-form-urlencoded";
    if (authorization !== undefined) headers.authorization = authorization;
    let status: number;
    let text: string;
    let answerHeaders: IncomingHttpHeaders;
    try {
      ({
        status,
        text,
        headers: answerHeaders,
      } = await measured(
        this.#options.observe,
        upstream === "Aetos" ? "aetos" : "prometheus",
        options.signal,
        () =>
          this.#http.request({
            method: post ? "POST" : "GET",
            path,
            headers,
            body: post ? query : undefined,
            signal: options.signal,
          }),
      ));
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw transportError(upstream, endpoint, err, this.#options.timeoutMs);
    }
    const body = parseJson(text);
    if (status === 200 && isRecord(body) && body.status === "success") {
      return { data: body.data, headers: answerHeaders };
    }
    // An upstream may quote a header it refused (a tenant it does not know): never pass that on.
    const shown = this.#withoutHeaderValues(text);
    throw upstreamDetail(upstream, endpoint, status, shown === text ? body : parseJson(shown), shown);
  }

  /** `text` with every configured header value replaced by [redacted]. */
  #withoutHeaderValues(text: string): string {
    let shown = text;
    for (const value of Object.values(this.#options.headers ?? {})) {
      if (value !== "") shown = shown.split(value).join("[redacted]");
    }
    return shown;
  }

  /**
   * Closes the connections at once. It runs after the server has drained, when the only requests
   * left are shared loads nobody waits for, which a graceful close would wait out.
   */
  async close(): Promise<void> {
    this.#http.close();
  }
}

/** A successful answer of the HTTP API: the envelope's `data`, and the answer's headers. */
export interface ApiAnswer {
  readonly data: unknown;
  readonly headers: IncomingHttpHeaders;
}

/** The Authorization header of basic auth ([prometheus_client] username and password). */
export function basicAuthorization(auth: { readonly username: string; readonly password: string }): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  }
  return out;
}

function malformed(upstream: UpstreamName, what: string): MetricsAccessError {
  return new MetricsAccessError("unavailable", `${upstream} sent an answer this service cannot read`, {
    reason: "UPSTREAM_MALFORMED",
    cause: new Error(what),
  });
}
