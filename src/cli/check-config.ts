import { metricsServiceOver } from "../app.js";
import { describeCredentials } from "../clients/keystone.js";
import { ConfigError, loadConfig } from "../config/load.js";
import type { AetosSourceConfig, Config, PrometheusSourceConfig } from "../config/types.js";
import { AETOS_SERVICE_TYPE, AetosDatasource } from "../datasource/aetos.js";
import { describeBackend } from "../datasource/backend-kind.js";
import type { Datasource } from "../datasource/datasource.js";
import { PrometheusDatasource } from "../datasource/prometheus.js";
import { UpstreamLimit } from "../datasource/upstream-limit.js";
import { isMetricsAccessError } from "../errors.js";
import { createLogger } from "../log.js";
import { redactUrlCredentials } from "../redact.js";
import { configFileArgs } from "./args.js";
import type { CliContext } from "./context.js";
import { checkMetrics } from "./metric-checks.js";
import {
  type CheckReport,
  type CheckResult,
  failed,
  ok,
  reportOf,
  skipped,
  withoutSecrets,
} from "./report.js";
import { safeMessage } from "./safe-message.js";

export interface CheckConfigOptions {
  readonly configFiles: readonly string[];
  readonly host: string | undefined;
  readonly instance: string | undefined;
}

/**
 * Everything serving needs, checked in the order it is needed; a step that fails makes the steps
 * that depend on it "skipped" rather than failing each of them again with the same cause.
 */
export async function checkConfig(options: CheckConfigOptions, context: CliContext): Promise<CheckReport> {
  let config: Config;
  try {
    config = loadConfig({
      argv: configFileArgs(options.configFiles),
      env: context.env,
      readFile: context.readFile,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const count = err.problems.length === 1 ? "1 problem" : `${err.problems.length} problems`;
    const detail = [`invalid configuration, ${count}:`, ...err.problems.map((p) => `- ${p}`)].join("\n");
    return { checks: [failed("configuration", detail, { problems: err.problems })], exitCode: 2 };
  }
  const checks: CheckResult[] = [ok("configuration", describeSource(config.datasource))];
  const connected = await connect(config.datasource);
  checks.push(...connected.checks);
  const { datasource } = connected;
  if (datasource === undefined) {
    checks.push(...notTried(connected.why));
  } else {
    try {
      const reachable = await connected.probe();
      checks.push(reachable);
      if (reachable.status === "ok") {
        // The checks' queries keep to the server's limit on upstream requests in flight too.
        const limited = new UpstreamLimit(datasource, {
          maxInFlight: config.server.maxConcurrentUpstreamQueries,
          queueTimeoutMs: config.server.upstreamQueueTimeoutMs,
        });
        // A one-shot check lists hosts once: no background refresh is ever started to report.
        const service = metricsServiceOver(limited, config, createLogger("silent", { write: () => {} }));
        const asked = { service, datasource: limited, host: options.host, instance: options.instance };
        checks.push(...(await checkMetrics(asked)));
      } else {
        checks.push(...notTried(`${upstreamName(config.datasource)} does not answer`));
      }
    } finally {
      await datasource.close();
    }
  }
  return withoutSecrets(reportOf(checks), secretsOf(config));
}

/** The rows of the checks that need the upstream, when it cannot be asked: the report keeps its shape. */
function notTried(why: string): CheckResult[] {
  return ["hosts", "metrics", "instances"].map((check) => skipped(check, `not tried: ${why}`));
}

function upstreamName(source: Config["datasource"]): string {
  return source.kind === "aetos" ? "Aetos" : "Prometheus";
}

function describeSource(source: Config["datasource"]): string {
  if (source.kind === "prometheus") {
    return `valid; datasource prometheus at ${redactUrlCredentials(`${source.origin}${source.rootPath}`)}`;
  }
  const region = source.regionName === undefined ? "any region" : `region ${source.regionName}`;
  return `valid; datasource aetos, found through Keystone ${redactUrlCredentials(source.keystone.authUrl)} (interface ${source.interface}, ${region})`;
}

type Connected =
  | {
      readonly datasource: Datasource;
      readonly checks: readonly CheckResult[];
      /** The upstream's row: the readiness probe the server runs. */
      readonly probe: () => Promise<CheckResult>;
    }
  /** `why` says what is missing, for the checks that cannot run. */
  | { readonly datasource: undefined; readonly checks: readonly CheckResult[]; readonly why: string };

/**
 * The datasource, as serve makes it. For Aetos that is where Keystone is asked for a token and the
 * catalog for the endpoint; the error's reason tells which of the two failed.
 */
async function connect(source: PrometheusSourceConfig | AetosSourceConfig): Promise<Connected> {
  if (source.kind === "prometheus") {
    const datasource = new PrometheusDatasource(source);
    return { datasource, checks: [], probe: () => probePrometheus(datasource) };
  }
  // The report says what happened; the service's own log lines would only repeat it.
  const logger = createLogger("silent", { write: () => {} });
  try {
    const { datasource, endpoint } = await AetosDatasource.connect(source, logger);
    const region = source.regionName === undefined ? "first in catalog order" : `region ${source.regionName}`;
    return {
      datasource,
      probe: () => probeAetos(datasource),
      checks: [
        ok("keystone", `issued a token to ${describeCredentials(source.keystone.credentials)}`),
        ok(
          "catalog",
          `${AETOS_SERVICE_TYPE} endpoint ${redactUrlCredentials(endpoint)} (interface ${source.interface}, ${region})`,
          { endpoint: redactUrlCredentials(endpoint) },
        ),
      ],
    };
  } catch (err) {
    const reason = isMetricsAccessError(err) ? err.reason : undefined;
    if (reason === "CATALOG_NO_ENDPOINT" || reason === "CATALOG_BAD_URL") {
      return {
        datasource: undefined,
        why: "no Aetos endpoint",
        checks: [
          ok("keystone", `issued a token to ${describeCredentials(source.keystone.credentials)}`),
          failed("catalog", safeMessage(err)),
          skipped("aetos", "not tried: no Aetos endpoint"),
        ],
      };
    }
    return {
      datasource: undefined,
      why: "no Keystone token",
      checks: [
        failed("keystone", safeMessage(err)),
        skipped("catalog", "not tried: no Keystone token"),
        skipped("aetos", "not tried: no Keystone token"),
      ],
    };
  }
}

/** The readiness probe the server runs through Aetos: a query with the token. */
async function probeAetos(datasource: Datasource): Promise<CheckResult> {
  try {
    await datasource.probe({});
    return ok("aetos", "answered a query with the token");
  } catch (err) {
    return failed("aetos", safeMessage(err));
  }
}

/**
 * The readiness probe the server runs on direct Prometheus, its build information, which also
 * tells Prometheus from VictoriaMetrics and other servers, as the server's start-up log does
 * (docs/backends.md).
 */
async function probePrometheus(datasource: PrometheusDatasource): Promise<CheckResult> {
  try {
    const identity = await datasource.identify({});
    return ok("prometheus", `answered GET /api/v1/status/buildinfo: ${describeBackend(identity)}`, {
      backend: identity.kind,
      ...(identity.version !== undefined && { version: identity.version }),
    });
  } catch (err) {
    return failed("prometheus", safeMessage(err));
  }
}

/** The configured secrets, blanked out of the report should any message ever quote one. */
function secretsOf(config: Config): string[] {
  const source = config.datasource;
  if (source.kind === "prometheus") {
    const headerValues = Object.values(source.requestHeaders ?? {});
    return source.basicAuth ? [source.basicAuth.password, ...headerValues] : headerValues;
  }
  const credentials = source.keystone.credentials;
  return [credentials.method === "password" ? credentials.password : credentials.secret];
}
