import type { ActiveTarget, Sample } from "../clients/prometheus-http.js";
import type { MetricLabels } from "../config/types.js";

export type { ActiveTarget, Sample };

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
  /** Every series name the backend holds. */
  seriesNames(options: CallOptions): Promise<string[]>;
  close(): Promise<void>;
}
