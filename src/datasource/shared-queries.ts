import { SingleFlight } from "../single-flight.js";
import type { ActiveTarget, CallOptions, Datasource, QueryOptions, Sample } from "./datasource.js";

export interface SharedQueriesOptions {
  /** How long an answer is kept; 0: no cache, only coalescing. */
  readonly cacheTtlMs: number;
  /** Most answers kept at once; the oldest go first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/** How often the shared answers were used, for the self-metrics. */
export interface SharedQueryCounts {
  /** Answers served from the cache. */
  readonly cacheHits: number;
  /** Queries sent upstream because no cached answer was fresh (with the cache on). */
  readonly cacheMisses: number;
  /** Calls that joined an identical query already in flight instead of sending their own. */
  readonly coalesced: number;
}

interface Entry {
  readonly expiresAt: number;
  readonly samples: Sample[];
}

/**
 * A decorator of a Datasource that sends an identical instant query only once: callers asking for
 * it while it is in flight share the answer (always), and with a TTL the answer is kept and served
 * again (off by default). A cached answer must be exactly what the backend says, so with the cache
 * on every query is evaluated at a time aligned to the TTL step (floor(now / ttl) * ttl) and keyed
 * on it: within one step, everyone gets Prometheus's answer for that instant.
 */
export class SharedQueries implements Datasource {
  readonly name: Datasource["name"];
  readonly labels: Datasource["labels"];
  readonly maxQueryLength: number | undefined;
  readonly #inner: Datasource;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #inFlight = new SingleFlight<string, Sample[]>();
  readonly #cache = new Map<string, Entry>();
  #counts = { cacheHits: 0, cacheMisses: 0, coalesced: 0 };

  constructor(inner: Datasource, options: SharedQueriesOptions) {
    this.#inner = inner;
    this.name = inner.name;
    this.labels = inner.labels;
    this.maxQueryLength = inner.maxQueryLength;
    this.#ttlMs = options.cacheTtlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get counts(): SharedQueryCounts {
    return { ...this.#counts };
  }

  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]> {
    const time = options.time ?? this.#alignedTime();
    // A caller's forwarded token sees what Aetos shows that token: its answers are its own.
    const owner = options.callerToken === undefined ? "" : `${options.callerToken.id}\n`;
    const key = time === undefined ? `${owner}${promql}` : `${owner}${time}\n${promql}`;
    if (time !== undefined && options.time === undefined) {
      const cached = this.#cache.get(key);
      if (cached !== undefined && cached.expiresAt > this.#now()) {
        this.#counts.cacheHits++;
        return Promise.resolve(cached.samples);
      }
      this.#counts.cacheMisses++;
    }
    if (this.#inFlight.has(key)) this.#counts.coalesced++;
    return this.#inFlight.run(
      key,
      async (signal) => {
        // The first caller's deadline goes upstream; callers joining later share its fate.
        const samples = await this.#inner.instantQuery(promql, {
          signal,
          time,
          deadline: options.deadline,
          callerToken: options.callerToken,
        });
        if (time !== undefined && options.time === undefined) this.#store(key, time, samples);
        return samples;
      },
      options.signal,
    );
  }

  queryLength(promql: string): number {
    return this.#inner.queryLength(promql);
  }

  activeTargets(options: CallOptions): Promise<ActiveTarget[]> {
    return this.#inner.activeTargets(options);
  }

  seriesNames(options: CallOptions): Promise<string[] | undefined> {
    return this.#inner.seriesNames(options);
  }

  async projectScope(options: CallOptions): Promise<string | undefined> {
    return await this.#inner.projectScope(options);
  }

  probe(options: CallOptions): Promise<void> {
    return this.#inner.probe(options);
  }

  close(): Promise<void> {
    this.#cache.clear();
    return this.#inner.close();
  }

  /** Unix seconds on the TTL grid, or undefined with the cache off (the backend's "now"). */
  #alignedTime(): number | undefined {
    if (this.#ttlMs <= 0) return undefined;
    return (Math.floor(this.#now() / this.#ttlMs) * this.#ttlMs) / 1000;
  }

  /** Keeps an answer until its TTL step ends: the next step has another key. */
  #store(key: string, timeSec: number, samples: Sample[]): void {
    const now = this.#now();
    for (const [k, entry] of this.#cache) {
      if (entry.expiresAt > now && this.#cache.size < this.#maxEntries) break;
      this.#cache.delete(k);
    }
    this.#cache.set(key, { expiresAt: timeSec * 1000 + this.#ttlMs, samples });
  }
}
