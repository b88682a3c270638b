import { describeCatalog, selectEndpoint, splitEndpointUrl } from "../clients/catalog.js";
import {
  describeCredentials,
  KeystoneClient,
  type KeystoneToken,
  namingCredentials,
} from "../clients/keystone.js";
import { PrometheusHttpClient, type RequestOptions, urlEncodedLength } from "../clients/prometheus-http.js";
import { TokenSource } from "../clients/token-source.js";
import type { AetosSourceConfig, MetricLabels } from "../config/types.js";
import { isMetricsAccessError, MetricsAccessError } from "../errors.js";
import type { Logger } from "../log.js";
import type {
  ActiveTarget,
  CallOptions,
  Datasource,
  DatasourceHooks,
  QueryOptions,
  Sample,
} from "./datasource.js";
import { queryTimeoutSeconds } from "./prometheus.js";

/** Roles Aetos's default policy lets see every project's series (telemetry:*:all_projects). */
export const PRIVILEGED_ROLES: ReadonlySet<string> = new Set(["admin", "service"]);

export const AETOS_SERVICE_TYPE = "metric-storage";

/**
 * Prometheus through Aetos: the endpoint comes from the Keystone catalog at start-up, every request
 * carries the service's token in X-Auth-Token (and only requests to Aetos do), and a 401 drops the
 * token and resends the request once with a fresh one, as keystoneauth's session does.
 */
export class AetosDatasource implements Datasource {
  readonly name = "aetos";
  readonly labels: MetricLabels;
  readonly maxQueryLength: number;
  readonly #keystone: KeystoneClient;
  readonly #tokens: TokenSource;
  readonly #client: PrometheusHttpClient;

  private constructor(
    config: AetosSourceConfig,
    keystone: KeystoneClient,
    tokens: TokenSource,
    endpoint: string,
    hooks: DatasourceHooks,
  ) {
    this.labels = config.labels;
    this.#keystone = keystone;
    this.#tokens = tokens;
    const split = splitEndpointUrl(endpoint);
    if (!split) {
      throw new MetricsAccessError(
        "failed_precondition",
        `the ${AETOS_SERVICE_TYPE} catalog URL is not an http(s) URL`,
        {
          reason: "CATALOG_BAD_URL",
        },
      );
    }
    // The request line: GET <root>/api/v1/query?query=<query>&time=<seconds.millis>&timeout=<seconds.millis> HTTP/1.1
    const overhead =
      `GET ${split.rootPath}/api/v1/query?query=&time=0000000000.000&timeout=000000000.000 HTTP/1.1`.length;
    this.maxQueryLength = config.maxUrlLength - overhead;
    this.#client = new PrometheusHttpClient({
      upstream: "Aetos",
      origin: split.origin,
      rootPath: split.rootPath,
      // The configured CA verifies Aetos too; observabilityclient replaces it with the system store.
      tls: split.origin.startsWith("https:") ? config.keystone.tls : undefined,
      timeoutMs: config.keystone.timeoutMs,
      observe: hooks.observe,
    });
  }

  /**
   * Authenticates and finds the endpoint. Fails (and the process exits) when Keystone cannot be
   * reached or refuses the credentials, when the catalog has no matching endpoint, or when the token
   * lacks the admin and service roles and `[aetos_client] require_privileged_role` is true (without
   * it, that is a warning).
   */
  static async connect(
    config: AetosSourceConfig,
    logger: Logger,
    hooks: DatasourceHooks = {},
  ): Promise<{ datasource: AetosDatasource; endpoint: string }> {
    const keystone = new KeystoneClient(config.keystone, hooks.observe);
    const tokens = new TokenSource(
      async () => {
        const token = await keystone.issueToken();
        logger.info(
          { expiresAt: new Date(token.expiresAt).toISOString(), roles: token.roles },
          "keystone token issued",
        );
        return token;
      },
      {
        onRenewalFailure: (err, token) =>
          logger.warn(
            { err, expiresAt: new Date(token.expiresAt).toISOString() },
            "keystone token renewal failed: using the current token until it expires",
          ),
        onIssued: hooks.onTokenIssued,
      },
    );
    try {
      const token = await tokens.token().catch((err: unknown) => {
        throw namingCredentials(err, config.keystone.credentials);
      });
      checkRoles(config, token, logger);
      const filter = {
        serviceType: AETOS_SERVICE_TYPE,
        interface: config.interface,
        regionName: config.regionName,
      };
      const endpoint = selectEndpoint(token.catalog, filter);
      if (endpoint === undefined) {
        const where = config.regionName === undefined ? "any region" : `region ${config.regionName}`;
        throw new MetricsAccessError(
          "failed_precondition",
          `no ${AETOS_SERVICE_TYPE} endpoint for interface ${config.interface} in ${where} ([aetos_client] interface, region_name); ${describeCatalog(token.catalog, AETOS_SERVICE_TYPE)}`,
          { reason: "CATALOG_NO_ENDPOINT" },
        );
      }
      return { datasource: new AetosDatasource(config, keystone, tokens, endpoint, hooks), endpoint };
    } catch (err) {
      await keystone.close();
      throw err;
    }
  }

  /** Aetos 3 passes query, time and timeout on to Prometheus: the caller's deadline goes as timeout. */
  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]> {
    return this.#withToken(options, (request) =>
      this.#client.query(promql, {
        ...request,
        time: options.time,
        timeoutSeconds: queryTimeoutSeconds(options.deadline, Date.now()),
      }),
    );
  }

  queryLength(promql: string): number {
    return urlEncodedLength(promql);
  }

  activeTargets(options: CallOptions): Promise<ActiveTarget[]> {
    return this.#withToken(options, (request) => this.#client.activeTargets(request));
  }

  /**
   * Aetos answers label values unfiltered only for a privileged token (its default policy: the admin
   * or the service role); for any other it lists the token's project's series alone, in which an
   * absent name proves nothing.
   */
  async seriesNames(options: CallOptions): Promise<string[] | undefined> {
    const token = await this.#tokens.token(options.signal);
    if (!token.roles.some((role) => PRIVILEGED_ROLES.has(role))) return undefined;
    return await this.#withToken(options, (request) => this.#client.seriesNames(request));
  }

  /** A token held (issued anew if the cached one is gone) and Aetos answering a query with it. */
  /**
   * The series names, not a query: Aetos answers a token without the admin or service role by
   * adding its project to every selector, and refuses a query with none (such as `vector(1)`) with
   * 400, while it lists such a token's own series names like anyone else's.
   */
  async probe(options: CallOptions): Promise<void> {
    await this.#withToken(options, (request) => this.#client.seriesNames(request));
  }

  async close(): Promise<void> {
    await Promise.all([this.#client.close(), this.#keystone.close()]);
  }

  /**
   * A token without the admin or service role is confined by Aetos to its project: the caller's
   * forwarded token, or the service's own.
   */
  async projectScope(options: CallOptions): Promise<string | undefined> {
    const token = options.callerToken ?? (await this.#tokens.token(options.signal));
    if (token.roles.some((role) => PRIVILEGED_ROLES.has(role))) return undefined;
    return token.projectId ?? "";
  }

  async #withToken<T>(options: CallOptions, send: (request: RequestOptions) => Promise<T>): Promise<T> {
    if (options.callerToken !== undefined) return await withCallerToken(options, send);
    const attempt = async (token: KeystoneToken) =>
      await send({ signal: options.signal, headers: { "x-auth-token": token.value } });
    const token = await this.#tokens.token(options.signal);
    try {
      return await attempt(token);
    } catch (err) {
      if (!isMetricsAccessError(err) || err.reason !== "UPSTREAM_UNAUTHORIZED") throw err;
      this.#tokens.invalidate(token);
      return await attempt(await this.#tokens.token(options.signal));
    }
  }
}

/**
 * A request with the caller's own token (forward_caller_token). What Aetos refuses it is the
 * caller's business, not the service's: a 401 (the token expired or was revoked since Keystone
 * validated it) is UNAUTHENTICATED, a 403 (its roles may not, e.g. a project member listing the
 * targets) PERMISSION_DENIED. No second try: there is no other token to try with.
 */
async function withCallerToken<T>(
  options: CallOptions,
  send: (request: RequestOptions) => Promise<T>,
): Promise<T> {
  try {
    return await send({
      signal: options.signal,
      headers: { "x-auth-token": options.callerToken?.value ?? "" },
    });
  } catch (err) {
    if (!isMetricsAccessError(err)) throw err;
    if (err.reason === "UPSTREAM_UNAUTHORIZED") {
      throw new MetricsAccessError(
        "unauthenticated",
        "x-auth-token: Aetos does not accept this token any more (expired or revoked)",
        { reason: "CALLER_CREDENTIALS_INVALID", cause: err },
      );
    }
    if (err.reason === "UPSTREAM_FORBIDDEN") {
      throw new MetricsAccessError(
        "permission_denied",
        "Aetos does not let this token do what the call needs (its policy: listing the targets, which ListHosts and host metrics need, takes the admin or service role)",
        { reason: "UPSTREAM_DENIED_CALLER", cause: err },
      );
    }
    throw err;
  }
}

/**
 * The start-up token's roles. Without admin or service, Aetos's default policy adds the token's
 * project to every query and refuses the targets: the service runs, but half blind. That is a
 * warning, or the end of the start when the operator asked for the role.
 */
function checkRoles(config: AetosSourceConfig, token: KeystoneToken, logger: Logger): void {
  if (token.roles.some((role) => PRIVILEGED_ROLES.has(role))) return;
  const roles = token.roles.length === 0 ? "none" : token.roles.join(", ");
  const credentials = describeCredentials(config.keystone.credentials);
  if (config.requirePrivilegedRole) {
    throw new MetricsAccessError(
      "failed_precondition",
      `the Keystone token of ${credentials} has neither the admin nor the service role (roles: ${roles}) and [aetos_client] require_privileged_role is true: give the user the admin or service role, or set require_privileged_role = false to serve confined to the token's project`,
      { reason: "KEYSTONE_ROLE_INSUFFICIENT" },
    );
  }
  logger.warn(
    { roles: token.roles, identity: credentials },
    `keystone token has neither the admin nor the service role (roles: ${roles}): Aetos confines every query to the token's project, so instances of other projects answer with no value, and refuses the targets, so ListHosts and host metrics fail (UNAVAILABLE, UPSTREAM_FORBIDDEN); set [aetos_client] require_privileged_role = true to refuse to start instead`,
  );
}
