import type { IncomingHttpHeaders } from "node:http";
import { HttpOrigin } from "../clients/http-origin.js";
import { basicAuthorization } from "../clients/prometheus-http.js";
import type { AetosSourceConfig, PrometheusSourceConfig } from "../config/types.js";
import type { Logger } from "../log.js";

/**
 * What answers the Prometheus HTTP API at `[prometheus_client]`. VictoriaMetrics serves the same
 * paths but runs MetricsQL, which answers some of the catalogue's queries differently from the
 * PromQL Watcher runs on Prometheus (docs/backends.md): the service says so in its log rather than
 * pass such numbers off as Watcher's in silence.
 */
export type BackendKind = "prometheus" | "victoriametrics" | "unrecognised";

export interface BackendIdentity {
  readonly kind: BackendKind;
  /** The version the server reports, when it reports one of its own. */
  readonly version: string | undefined;
}

/**
 * The Prometheus version VictoriaMetrics claims in its build information since the end of 2023, for
 * Grafana's sake (it is not VictoriaMetrics's own version).
 */
const VICTORIA_METRICS_CLAIMED_VERSION = "2.24.0";

/**
 * Tells the server from its answer to `GET /api/v1/status/buildinfo`:
 * - Prometheus (and servers that run its engine and answer as it does: Thanos, Mimir) fills in
 *   `version`, `revision` and `goVersion`;
 * - VictoriaMetrics answers `{}` (1.77, which added the path, to late 2023) or a fixed
 *   `{"version":"2.24.0"}` (later), and puts an `X-Server-Hostname` header on every answer;
 * - anything else is unrecognised.
 */
export function classifyBuildInfo(headers: IncomingHttpHeaders, text: string): BackendIdentity {
  const data = buildInfoData(text);
  if (data !== undefined) {
    const { version, revision, goVersion } = data;
    if (typeof version === "string" && typeof revision === "string" && typeof goVersion === "string") {
      return { kind: "prometheus", version };
    }
  }
  const keys = data === undefined ? [] : Object.keys(data);
  const victoriaShaped =
    data !== undefined &&
    (keys.length === 0 || (keys.length === 1 && data.version === VICTORIA_METRICS_CLAIMED_VERSION));
  if (headers["x-server-hostname"] !== undefined || victoriaShaped) {
    return { kind: "victoriametrics", version: undefined };
  }
  return { kind: "unrecognised", version: undefined };
}

function buildInfoData(text: string): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== "object" || body === null) return undefined;
    const data = (body as { data?: unknown }).data;
    return typeof data === "object" && data !== null && !Array.isArray(data)
      ? (data as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** What an operator reads about the upstream (check-config's report). */
export function describeBackend(identity: BackendIdentity): string {
  switch (identity.kind) {
    case "prometheus":
      return identity.version === undefined ? "Prometheus" : `Prometheus ${identity.version}`;
    case "victoriametrics":
      return "VictoriaMetrics: its MetricsQL answers some metrics differently from Prometheus (docs/backends.md)";
    default:
      return "not Prometheus, nor a server metrics-access recognises: some metrics can differ from Watcher's (docs/backends.md)";
  }
}

/** One `GET /api/v1/status/buildinfo` with the section's TLS and basic auth; rejects on no answer. */
export async function identifyBackend(
  config: PrometheusSourceConfig,
  signal?: AbortSignal,
): Promise<BackendIdentity> {
  const http = new HttpOrigin({
    origin: config.origin,
    tls: config.tls,
    connectTimeoutMs: Math.min(config.timeoutMs, 10_000),
    timeoutMs: config.timeoutMs,
    maxSockets: 1,
    maxResponseBytes: 64 * 1024,
    idleTimeoutMs: 1_000,
  });
  // The operator's headers too: a multi-tenant store refuses a request without its tenant.
  const headers: Record<string, string> = {
    ...config.requestHeaders,
    accept: "application/json",
    "user-agent": "metrics-access",
  };
  if (config.basicAuth) headers.authorization = basicAuthorization(config.basicAuth);
  try {
    const answer = await http.request({
      method: "GET",
      path: `${config.rootPath}/api/v1/status/buildinfo`,
      headers,
      signal,
    });
    if (answer.status !== 200) throw new Error(`build information answered HTTP ${answer.status}`);
    return classifyBuildInfo(answer.headers, answer.text);
  } finally {
    http.close();
  }
}

/**
 * Identifies a direct upstream once, the first time it is ready, and logs what it is: a warning
 * naming docs/backends.md when it is not Prometheus. Through Aetos nothing is checked (Aetos shows
 * no build information of the Prometheus behind it). A failed check is tried again at the next
 * readiness change; it never affects serving.
 */
export class BackendCheck {
  readonly #config: PrometheusSourceConfig | AetosSourceConfig;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #state: "pending" | "running" | "done" = "pending";

  constructor(config: PrometheusSourceConfig | AetosSourceConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  /** Starts the check unless it ran or runs; resolves when it has ended (it never rejects). */
  async check(): Promise<void> {
    const config = this.#config;
    if (config.kind !== "prometheus" || this.#state !== "pending") return;
    this.#state = "running";
    const logger = this.#logger;
    try {
      const { kind, version } = await identifyBackend(config, this.#abort.signal);
      this.#state = "done";
      if (kind === "prometheus") {
        logger.info({ backend: kind, version }, "upstream identified as Prometheus");
        return;
      }
      const what = kind === "victoriametrics" ? "VictoriaMetrics" : "an unrecognised server";
      logger.warn(
        { backend: kind, origin: config.origin },
        `the upstream answers as ${what}, not as Prometheus: some metrics can differ from the numbers Watcher computes on Prometheus (docs/backends.md)`,
      );
    } catch {
      // Tried again at the next readiness change (the readiness probe reports the upstream's state).
      this.#state = this.#abort.signal.aborted ? "done" : "pending";
    }
  }

  /** Abandons a check in flight (at stop). */
  close(): void {
    this.#abort.abort();
  }
}
