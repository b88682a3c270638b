import type { ActiveTarget, Sample } from "../clients/prometheus-http.js";
import type { TokenIssueKind } from "../clients/token-source.js";
import type { UpstreamObserver } from "../clients/upstream-observer.js";
import type { MetricLabels } from "../config/types.js";

export type { ActiveTarget, Sample };

export interface CallOptions {
  /** The caller's deadline and cancellation; the upstream request is aborted with it. */
  readonly signal?: AbortSignal | undefined;
  /** When the caller's deadline ends, in epoch milliseconds; undefined: the caller set none. */
  readonly deadline?: number | undefined;
  /**
   * The caller's own Keystone token, sent upstream instead of the service's (Aetos with
   * forward_caller_token); undefined: the service's own credentials.
   */
  readonly callerToken?: CallerToken | undefined;
}

/** A caller's token, validated by Keystone, and what it is scoped to. */
export interface CallerToken {
  readonly value: string;
  /** Tells tokens apart without holding their text in keys and logs (a hash of it). */
  readonly id: string;
  readonly projectId: string | undefined;
  readonly roles: readonly string[];
}

/** What a datasource reports for the self-metrics. */
export interface DatasourceHooks {
  /** Every upstream HTTP request (Prometheus, Aetos, Keystone), once it has ended. */
  readonly observe?: UpstreamObserver | undefined;
  /** Every Keystone token issue, once it has ended (Aetos only). */
  readonly onTokenIssued?: ((kind: TokenIssueKind, ok: boolean) => void) | undefined;
}

export interface QueryOptions extends CallOptions {
  /** Evaluation time, Unix seconds; unset: the backend's "now", as Watcher queries. */
  readonly time?: number | undefined;
}

/**
 * What the metrics service needs from a backend: run an instant query and list active targets.
 * Direct Prometheus and Aetos implement it; batch queries and other sources plug in here later.
 */
export interface Datasource {
  readonly name: "prometheus" | "aetos";
  /** The label names this datasource's configuration section gives. */
  readonly labels: MetricLabels;
  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]>;
  /**
   * The longest query one request can carry, measured by `queryLength`; undefined when there is no
   * limit (direct Prometheus takes long queries by POST; Aetos takes GET only, behind web servers
   * whose request lines end around 8 KB).
   */
  readonly maxQueryLength: number | undefined;
  /** What a query's text counts against maxQueryLength; additive over concatenated text. */
  queryLength(promql: string): number;
  activeTargets(options: CallOptions): Promise<ActiveTarget[]>;
  /**
   * The Keystone project this call's answers are confined to, or undefined when they see every
   * project (always, for direct Prometheus).
   */
  projectScope(options: CallOptions): Promise<string | undefined>;
  /**
   * The series names the backend holds, or undefined when it shows this service only part of them
   * (Aetos narrows them to the token's project unless the token is privileged).
   */
  seriesNames(options: CallOptions): Promise<string[] | undefined>;
  /**
   * Resolves when the upstream answers (readiness): Prometheus answers its API; for Aetos, a
   * Keystone token is held (or can be had) and Aetos answers a query with it. Rejects otherwise.
   */
  probe(options: CallOptions): Promise<void>;
  close(): Promise<void>;
}
