import type { ActiveTarget, CallOptions } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { SingleFlight } from "../single-flight.js";

/** A value of the host label and the active targets that carry it. */
export interface HostEntry {
  readonly labelValue: string;
  /** The part before the first dot; "" when the value has no dot. */
  readonly shortName: string;
  readonly targets: readonly { readonly job: string; readonly instance: string; readonly health: string }[];
}

/** What became of one host name: its label value, or why it has none. */
export type HostResolution = { readonly labelValue: string } | { readonly error: MetricsAccessError };

export interface HostDirectoryOptions {
  /** The host label name ([prometheus_client] or [aetos_client] fqdn_label). */
  readonly label: string;
  readonly loadTargets: (options: CallOptions) => Promise<ActiveTarget[]>;
  /** Least time between two reloads caused by misses; Watcher reloads on every miss. */
  readonly minRefreshIntervalMs: number;
  /**
   * Told when a reload nobody waits for (list's, in the background) fails; the last load stays in
   * use and the next call after the interval tries again.
   */
  readonly onBackgroundFailure?: ((err: unknown) => void) | undefined;
  readonly now?: () => number;
}

interface Snapshot {
  readonly loadedAt: number;
  readonly byValue: ReadonlyMap<string, HostEntry>;
  readonly byShortName: ReadonlyMap<string, readonly string[]>;
  readonly sorted: readonly HostEntry[];
}

/**
 * Host resolution as Watcher does it, from GET /api/v1/targets?state=active: the exact label
 * value, then a short name to its FQDN, then one reload of the targets (rate-limited here) and a
 * second try. Unlike Watcher, a short name shared by several FQDNs is an error, not a coin toss.
 */
export class HostDirectory {
  readonly #options: HostDirectoryOptions;
  readonly #now: () => number;
  #snapshot: Snapshot | undefined;
  readonly #loading = new SingleFlight<"targets", Snapshot>();

  constructor(options: HostDirectoryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The host label value for a host name as Nova knows it. */
  async resolve(host: string, options: CallOptions = {}): Promise<string> {
    const snapshot = await this.#snapshotKnowing([host], options);
    const resolution = this.#resolution(host, lookup(snapshot, host));
    if ("error" in resolution) throw resolution.error;
    return resolution.labelValue;
  }

  /**
   * Each host's label value, or the error resolving it alone would raise, with at most one reload
   * of the targets for all the misses together.
   */
  async resolveAll(
    hosts: readonly string[],
    options: CallOptions = {},
  ): Promise<Map<string, HostResolution>> {
    const snapshot = await this.#snapshotKnowing(hosts, options);
    return new Map(hosts.map((host) => [host, this.#resolution(host, lookup(snapshot, host))]));
  }

  /** The current targets, re-read once (rate-limited) when one of `hosts` is not among them. */
  async #snapshotKnowing(hosts: readonly string[], options: CallOptions): Promise<Snapshot> {
    const snapshot = this.#snapshot ?? (await this.#reload(options));
    if (hosts.every((h) => lookup(snapshot, h) !== undefined) || !this.#mayReload(snapshot)) return snapshot;
    return await this.#reload(options);
  }

  #resolution(host: string, found: readonly string[] | undefined): HostResolution {
    if (found === undefined) {
      const error = new MetricsAccessError(
        "not_found",
        `host ${JSON.stringify(host)} is not carried by the ${this.#options.label} label of any active Prometheus target`,
        { reason: "HOST_NOT_FOUND" },
      );
      return { error };
    }
    if (found.length > 1) {
      const error = new MetricsAccessError(
        "failed_precondition",
        `host ${JSON.stringify(host)} is ambiguous: it is the short name of ${found.map((v) => JSON.stringify(v)).join(", ")}; use the full name`,
        { reason: "HOST_AMBIGUOUS" },
      );
      return { error };
    }
    return { labelValue: found[0] ?? host };
  }

  /**
   * Every host, sorted by label value. Only the first call waits for the targets; later ones get
   * the last load at once, and when it is older than the interval they start one reload in the
   * background, which the calls after it see: the target list of a large fleet (10,000 targets
   * are megabytes of JSON) is not re-read on a caller's time.
   */
  async list(options: CallOptions = {}): Promise<readonly HostEntry[]> {
    const snapshot = this.#snapshot;
    if (snapshot === undefined) return (await this.#reload(options)).sorted;
    if (this.#mayReload(snapshot) && !this.#loading.has("targets")) {
      this.#reload({}).catch((err: unknown) => this.#options.onBackgroundFailure?.(err));
    }
    return snapshot.sorted;
  }

  #mayReload(snapshot: Snapshot): boolean {
    return this.#now() - snapshot.loadedAt >= this.#options.minRefreshIntervalMs;
  }

  /** One load at a time, shared by every caller; a caller's cancel stops its wait, not the load. */
  async #reload(options: CallOptions): Promise<Snapshot> {
    return await this.#loading.run(
      "targets",
      async (signal) => {
        const targets = await this.#options.loadTargets({ signal });
        this.#snapshot = buildSnapshot(targets, this.#options.label, this.#now());
        return this.#snapshot;
      },
      options.signal,
    );
  }
}

function lookup(snapshot: Snapshot, host: string): readonly string[] | undefined {
  if (snapshot.byValue.has(host)) return [host];
  return snapshot.byShortName.get(host);
}

function buildSnapshot(targets: readonly ActiveTarget[], label: string, loadedAt: number): Snapshot {
  const byValue = new Map<string, HostEntry & { targets: HostEntry["targets"][number][] }>();
  for (const target of targets) {
    const value = target.labels[label];
    if (!value) continue;
    let entry = byValue.get(value);
    if (!entry) {
      const dot = value.indexOf(".");
      entry = { labelValue: value, shortName: dot > 0 ? value.slice(0, dot) : "", targets: [] };
      byValue.set(value, entry);
    }
    entry.targets.push({
      job: target.labels.job ?? "",
      instance: target.labels.instance ?? "",
      health: target.health,
    });
  }
  const byShortName = new Map<string, string[]>();
  for (const entry of byValue.values()) {
    if (entry.shortName === "") continue;
    const values = byShortName.get(entry.shortName) ?? [];
    values.push(entry.labelValue);
    byShortName.set(entry.shortName, values.sort());
  }
  const sorted = [...byValue.values()].sort((a, b) => compare(a.labelValue, b.labelValue));
  return { loadedAt, byValue, byShortName, sorted };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
