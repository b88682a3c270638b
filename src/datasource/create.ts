import type { AetosSourceConfig, PrometheusSourceConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import { redactUrlCredentials } from "../redact.js";
import { AetosDatasource } from "./aetos.js";
import type { Datasource, DatasourceHooks } from "./datasource.js";
import { PrometheusDatasource } from "./prometheus.js";

/** The configured datasource, ready to serve (for Aetos: authenticated, endpoint found in the catalog). */
export async function createDatasource(
  config: PrometheusSourceConfig | AetosSourceConfig,
  logger: Logger,
  hooks: DatasourceHooks = {},
): Promise<Datasource> {
  if (config.kind === "prometheus") {
    logger.info({ origin: config.origin, rootPath: config.rootPath }, "datasource: direct Prometheus");
    return new PrometheusDatasource(config, hooks);
  }
  const { datasource, endpoint } = await AetosDatasource.connect(config, logger, hooks);
  logger.info(
    {
      endpoint: redactUrlCredentials(endpoint),
      interface: config.interface,
      region: config.regionName ?? null,
    },
    "datasource: Aetos, found in the Keystone catalog",
  );
  return datasource;
}
