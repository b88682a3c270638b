import type { IncomingHttpHeaders } from "node:http";

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
 * Tells the server from its answer to `GET /api/v1/status/buildinfo` (the envelope's `data`):
 * - Prometheus (and servers that run its engine and answer as it does: Thanos, Mimir) fills in
 *   `version`, `revision` and `goVersion`;
 * - VictoriaMetrics answers `{}` (1.77, which added the path, to late 2023) or a fixed
 *   `{"version":"2.24.0"}` (later), and puts an `X-Server-Hostname` header on every answer;
 * - anything else is unrecognised.
 */
export function classifyBuildInfo(headers: IncomingHttpHeaders, data: unknown): BackendIdentity {
  const info =
    typeof data === "object" && data !== null && !Array.isArray(data)
      ? (data as Record<string, unknown>)
      : undefined;
  if (info !== undefined) {
    const { version, revision, goVersion } = info;
    if (typeof version === "string" && typeof revision === "string" && typeof goVersion === "string") {
      return { kind: "prometheus", version };
    }
  }
  const keys = info === undefined ? [] : Object.keys(info);
  const victoriaShaped =
    info !== undefined &&
    (keys.length === 0 || (keys.length === 1 && info.version === VICTORIA_METRICS_CLAIMED_VERSION));
  if (headers["x-server-hostname"] !== undefined || victoriaShaped) {
    return { kind: "victoriametrics", version: undefined };
  }
  return { kind: "unrecognised", version: undefined };
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
