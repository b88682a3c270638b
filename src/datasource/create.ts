import type { AetosSourceConfig, PrometheusSourceConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import type { Datasource } from "./datasource.js";
import { PrometheusDatasource } from "./prometheus.js";

/** The configured datasource, ready to serve (for Aetos: authenticated, endpoint found in the catalog). */
export async function createDatasource(
  config: PrometheusSourceConfig | AetosSourceConfig,
  logger: Logger,
): Promise<Datasource> {
  if (config.kind === "prometheus") {
    logger.info({ origin: config.origin, rootPath: config.rootPath }, "datasource: direct Prometheus");
    return new PrometheusDatasource(config);
  }
  throw new Error("the aetos datasource is not built yet");
}
