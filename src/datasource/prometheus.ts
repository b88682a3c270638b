import { basicAuthorization, PrometheusHttpClient, urlEncodedLength } from "../clients/prometheus-http.js";
import type { MetricLabels, PrometheusSourceConfig } from "../config/types.js";
import { type BackendIdentity, classifyBuildInfo } from "./backend-kind.js";
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
/**
 * Time kept back from the caller's deadline for Prometheus's answer to get back (its timeout error
 * crossing the network and becoming the caller's status) after Prometheus gives up.
 */
const ANSWER_MARGIN_MS = 200;
/** The least timeout sent: less lets no query run, and 0 or below would fail it before it starts. */
const MIN_TIMEOUT_MS = 100;

/**
 * The `timeout` Prometheus is given for a query whose caller's deadline is `deadline` (epoch ms):
 * the time left, less the answer's way back, in whole milliseconds (as seconds), at least the
 * minimum; undefined without a deadline (nothing is sent: Prometheus's --query.timeout applies).
 */
export function queryTimeoutSeconds(deadline: number | undefined, now: number): number | undefined {
  if (deadline === undefined) return undefined;
  return Math.max(MIN_TIMEOUT_MS, Math.floor(deadline - now - ANSWER_MARGIN_MS)) / 1000;
}

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
      headers: config.requestHeaders,
      authorization: auth && basicAuthorization(auth),
    });
  }

  /**
   * Sends Prometheus the caller's deadline as its `timeout`: Prometheus then stops evaluating a
   * query nobody waits for any more (AetosDatasource sends it too: Aetos passes it on).
   */
  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]> {
    return this.#client.query(promql, {
      signal: options.signal,
      time: options.time,
      timeoutSeconds: queryTimeoutSeconds(options.deadline, Date.now()),
    });
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

  /** Prometheus has no tenants: every answer sees every series. */
  async projectScope(): Promise<string | undefined> {
    return undefined;
  }

  async probe(options: CallOptions): Promise<void> {
    await this.#client.buildInfo(options);
  }

  /** What answers at [prometheus_client], from the build information the probe reads. */
  async identify(options: CallOptions): Promise<BackendIdentity> {
    const { headers, data } = await this.#client.buildInfo(options);
    return classifyBuildInfo(headers, data);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
