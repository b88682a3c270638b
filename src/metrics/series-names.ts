import type { CallOptions } from "../datasource/datasource.js";
import { SingleFlight } from "../single-flight.js";

export interface SeriesNamesOptions {
  /**
   * Every series name the backend holds (GET /api/v1/label/__name__/values), or undefined when the
   * backend shows only part of them.
   */
  readonly load: (options: CallOptions) => Promise<string[] | undefined>;
  /** How long one load answers before the next question loads again. */
  readonly maxAgeMs: number;
  readonly now?: () => number;
}

interface Snapshot {
  readonly loadedAt: number;
  /** Undefined when the backend showed only part of its series. */
  readonly names: ReadonlySet<string> | undefined;
}

/**
 * Which series the backend holds, so that "no data for this resource" and "this backend has no such
 * series" can be told apart (an empty answer is either), and so that ListMetrics can say which
 * metrics the backend can serve. Loaded only when asked, at most once per `maxAgeMs`, shared by
 * concurrent callers.
 */
export class SeriesNames {
  readonly #options: SeriesNamesOptions;
  readonly #now: () => number;
  readonly #loading = new SingleFlight<"names", Snapshot>();
  #snapshot: Snapshot | undefined;

  constructor(options: SeriesNamesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The names among `series` that the backend does not hold; undefined when that cannot be told. */
  async missing(series: readonly string[], options: CallOptions = {}): Promise<string[] | undefined> {
    const { names } = await this.#current(options);
    return names === undefined ? undefined : series.filter((name) => !names.has(name));
  }

  async #current(options: CallOptions): Promise<Snapshot> {
    const snapshot = this.#snapshot;
    if (snapshot && this.#now() - snapshot.loadedAt < this.#options.maxAgeMs) return snapshot;
    return await this.#loading.run(
      "names",
      async (signal) => {
        const names = await this.#options.load({ signal });
        this.#snapshot = { loadedAt: this.#now(), names: names === undefined ? undefined : new Set(names) };
        return this.#snapshot;
      },
      options.signal,
    );
  }
}
