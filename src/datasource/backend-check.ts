import type { AetosSourceConfig, PrometheusSourceConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import type { BackendIdentity } from "./backend-kind.js";
import { PrometheusDatasource } from "./prometheus.js";

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
      const { kind, version } = await identify(config, this.#abort.signal);
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

/** One request for the build information, on a connection of its own that is closed after. */
async function identify(config: PrometheusSourceConfig, signal: AbortSignal): Promise<BackendIdentity> {
  const datasource = new PrometheusDatasource(config);
  try {
    return await datasource.identify({ signal });
  } finally {
    await datasource.close();
  }
}
