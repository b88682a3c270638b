import type { MetricLabels } from "../config/types.js";

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

export interface CallOptions {
  /** The caller's deadline and cancellation; the upstream request is aborted with it. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * What the metrics service needs from a backend: run an instant query and list active targets.
 * Direct Prometheus and Aetos implement it; batch queries and other sources plug in here later.
 */
export interface Datasource {
  readonly name: "prometheus" | "aetos";
  /** The label names this datasource's configuration section gives. */
  readonly labels: MetricLabels;
  instantQuery(promql: string, options: CallOptions): Promise<Sample[]>;
  activeTargets(options: CallOptions): Promise<ActiveTarget[]>;
  close(): Promise<void>;
}
