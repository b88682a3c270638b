import { PrometheusHttpClient, urlEncodedLength } from "../clients/prometheus-http.js";
import type { MetricLabels, PrometheusSourceConfig } from "../config/types.js";
import type {
  ActiveTarget,
  CallOptions,
  Datasource,
  DatasourceHooks,
  QueryOptions,
  Sample,
} from "./datasource.js";

/** Queries longer than this (URL-encoded) are POSTed: a long URL costs Prometheus more to read. */
const POST_ABOVE = 2048;

/** Direct Prometheus ([prometheus_client]): no Keystone token is ever sent here. */
export class PrometheusDatasource implements Datasource {
  readonly name = "prometheus";
  readonly labels: MetricLabels;
  readonly maxQueryLength = undefined;
  readonly #client: PrometheusHttpClient;

  constructor(config: PrometheusSourceConfig, hooks: DatasourceHooks = {}) {
    this.labels = config.labels;
    const auth = config.basicAuth;
    this.#client = new PrometheusHttpClient({
      upstream: "Prometheus",
      origin: config.origin,
      rootPath: config.rootPath,
      tls: config.tls,
      timeoutMs: config.timeoutMs,
      observe: hooks.observe,
      postQueriesAbove: POST_ABOVE,
      authorization: auth && `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`,
    });
  }

  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]> {
    return this.#client.query(promql, options);
  }

  queryLength(promql: string): number {
    return urlEncodedLength(promql);
  }

  activeTargets(options: CallOptions): Promise<ActiveTarget[]> {
    return this.#client.activeTargets(options);
  }

  seriesNames(options: CallOptions): Promise<string[] | undefined> {
    return this.#client.seriesNames(options);
  }

  probe(options: CallOptions): Promise<void> {
    return this.#client.buildInfo(options);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
