import { MetricsAccessError } from "../errors.js";
import type { ActiveTarget, CallOptions, Datasource, QueryOptions, Sample } from "./datasource.js";

/**
 * How long before its deadline a waiting call gives up. A place got later leaves the upstream too
 * little time to answer, and the caller learns that the limit was the cause, while it still listens,
 * instead of a bare DEADLINE_EXCEEDED.
 */
export const DEADLINE_MARGIN_MS = 200;

export interface UpstreamLimitOptions {
  /** Most upstream requests in flight at once ([metrics_access] max_concurrent_upstream_queries). */
  readonly maxInFlight: number;
  /** Most milliseconds a call waits for a place ([metrics_access] upstream_queue_timeout). */
  readonly queueTimeoutMs: number;
}

/** The limit's state, for the self-metrics. */
export interface UpstreamLimitCounts {
  /** Upstream requests holding a place now. */
  readonly inFlight: number;
  /** Calls waiting for a place now. */
  readonly waiting: number;
  /** Calls refused because no place freed in time, since the start. */
  readonly refused: number;
}

/**
 * A decorator of a Datasource that caps the upstream requests in flight across all callers, so that
 * a burst of callers cannot pile work on Prometheus (or Aetos) faster than it answers. A call past
 * the cap waits in line (first come, first served) until a place frees, until the queue timeout, or
 * until shortly before its deadline, whichever comes first; then it is refused with
 * RESOURCE_EXHAUSTED (UPSTREAM_QUERY_LIMIT). It sits below SharedQueries: coalesced and cached
 * answers send nothing and take no place.
 */
export class UpstreamLimit implements Datasource {
  readonly name: Datasource["name"];
  readonly labels: Datasource["labels"];
  readonly maxQueryLength: number | undefined;
  readonly #inner: Datasource;
  readonly #max: number;
  readonly #queueTimeoutMs: number;
  /** Each waiting call's admission, in arrival order (a Set iterates in insertion order). */
  readonly #waiting = new Set<() => void>();
  #inFlight = 0;
  #refused = 0;

  constructor(inner: Datasource, options: UpstreamLimitOptions) {
    this.#inner = inner;
    this.name = inner.name;
    this.labels = inner.labels;
    this.maxQueryLength = inner.maxQueryLength;
    this.#max = options.maxInFlight;
    this.#queueTimeoutMs = options.queueTimeoutMs;
  }

  get counts(): UpstreamLimitCounts {
    return { inFlight: this.#inFlight, waiting: this.#waiting.size, refused: this.#refused };
  }

  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]> {
    return this.#limited(options, () => this.#inner.instantQuery(promql, options));
  }

  queryLength(promql: string): number {
    return this.#inner.queryLength(promql);
  }

  activeTargets(options: CallOptions): Promise<ActiveTarget[]> {
    return this.#limited(options, () => this.#inner.activeTargets(options));
  }

  seriesNames(options: CallOptions): Promise<string[] | undefined> {
    return this.#limited(options, () => this.#inner.seriesNames(options));
  }

  /** Reads the token the inner datasource holds, asks nothing of the upstream: takes no place. */
  projectScope(options: CallOptions): Promise<string | undefined> {
    return this.#inner.projectScope(options);
  }

  /**
   * Not limited: readiness asks whether the upstream answers, not whether this service is busy. A
   * probe queued behind callers would time out under load and take the service out of rotation
   * exactly when it is needed, while the upstream answers well.
   */
  probe(options: CallOptions): Promise<void> {
    return this.#inner.probe(options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #limited<T>(options: CallOptions, send: () => Promise<T>): Promise<T> {
    await this.#acquire(options);
    try {
      return await send();
    } finally {
      this.#release();
    }
  }

  /** Takes a place, at once or after waiting in line; throws when none frees in time. */
  #acquire(options: CallOptions): Promise<void> | undefined {
    const { signal, deadline } = options;
    signal?.throwIfAborted();
    // While anyone waits every place is taken: a place that frees passes to the first in line.
    if (this.#inFlight < this.#max) {
      this.#inFlight++;
      return undefined;
    }
    const untilDeadline =
      deadline === undefined ? Number.POSITIVE_INFINITY : deadline - DEADLINE_MARGIN_MS - Date.now();
    const byDeadline = untilDeadline < this.#queueTimeoutMs;
    const waitMs = Math.min(this.#queueTimeoutMs, untilDeadline);
    if (waitMs <= 0) throw this.#refusal(byDeadline);
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        this.#waiting.delete(admit);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      // Called by #release, which hands over its place: #inFlight stays as it is.
      const admit = () => {
        leave();
        resolve();
      };
      const onAbort = () => {
        leave();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        leave();
        reject(this.#refusal(byDeadline));
      }, waitMs);
      this.#waiting.add(admit);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #release(): void {
    const next = this.#waiting.values().next();
    if (next.done) this.#inFlight--;
    else next.value();
  }

  #refusal(byDeadline: boolean): MetricsAccessError {
    this.#refused++;
    const when = byDeadline
      ? "before the call's deadline"
      : `within ${this.#queueTimeoutMs / 1000} s ([metrics_access] upstream_queue_timeout)`;
    return new MetricsAccessError(
      "resource_exhausted",
      `upstream query limit reached: ${this.#max} queries in flight ([metrics_access] max_concurrent_upstream_queries) and no place freed ${when}`,
      { reason: "UPSTREAM_QUERY_LIMIT" },
    );
  }
}
