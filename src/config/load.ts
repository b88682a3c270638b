import { isIPv4, isIPv6 } from "node:net";
import { errorCodeOf } from "../errors.js";
import { buildCatalogue } from "../metrics/catalogue-build.js";
import { type IniSections, parseIni } from "./ini.js";
import { readKeystone } from "./keystone-section.js";
import { MAX_UNIX_PATH_BYTES, parseListenAddress, parseTcpAddress } from "./listen-address.js";
import { isMetricEnvironmentName, readMetricSections } from "./metric-sections.js";
import { OptionReader } from "./options.js";
import { readRequestHeaders } from "./request-headers.js";
import { environmentName, OPTIONS, SERVICE_SECTION } from "./schema.js";
import type {
  AetosSourceConfig,
  CallerAuth,
  CatalogInterface,
  Config,
  ListenAddress,
  LogLevel,
  PrometheusSourceConfig,
  ServerConfig,
  ServerTls,
} from "./types.js";

/** Every problem found in the configuration; the process prints them all and exits non-zero. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

export interface ConfigInput {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly readFile: (path: string) => Buffer;
}

export const CONFIG_FILE_ENV = "METRICS_ACCESS_CONFIG_FILE";

/**
 * Reads the INI files named by `--config-file` (repeatable, later wins, as in oslo.config) or by
 * METRICS_ACCESS_CONFIG_FILE, applies METRICS_ACCESS__<SECTION>__<OPTION> overrides, validates
 * everything and returns a frozen Config, or throws ConfigError listing every problem.
 */
export function loadConfig(input: ConfigInput): Config {
  const problems: string[] = [];
  const sections: IniSections = new Map();
  for (const file of configFiles(input, problems)) {
    try {
      parseIni(input.readFile(file).toString("utf8"), file, sections);
    } catch (err) {
      const reason =
        err instanceof SyntaxError ? err.message : `cannot read ${file} (${errorCodeOf(err, "unreadable")})`;
      problems.push(reason);
    }
  }
  // Without every file read, the options below would be judged on a guess: stop here.
  if (problems.length > 0) throw new ConfigError(problems);
  for (const name of sections.get(SERVICE_SECTION)?.keys() ?? []) {
    if (!OPTIONS.some((o) => o.section === SERVICE_SECTION && o.name === name)) {
      problems.push(`[${SERVICE_SECTION}] ${name}: unknown option`);
    }
  }
  for (const name of Object.keys(input.env)) {
    if (
      name.startsWith("METRICS_ACCESS__") &&
      !OPTIONS.some((o) => environmentName(o) === name) &&
      !isMetricEnvironmentName(name)
    ) {
      problems.push(`environment ${name}: no such option (the rule is METRICS_ACCESS__<SECTION>__<OPTION>)`);
    }
  }

  const reader = new OptionReader(sections, input.env, input.readFile);
  const datasource = chooseDatasource(reader) === "aetos" ? readAetos(reader) : readPrometheus(reader);
  const server = readServer(reader, datasource);
  problems.push(...reader.problems);
  const metricSections = readMetricSections(sections, input.env);
  problems.push(...metricSections.problems);
  const catalogue = buildCatalogue(metricSections.overrides);
  problems.push(...catalogue.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({ server, datasource, metrics: catalogue.metrics });
}

function configFiles(input: ConfigInput, problems: string[]): string[] {
  const files: string[] = [];
  for (let i = 0; i < input.argv.length; i++) {
    const arg = input.argv[i] ?? "";
    if (arg === "--config-file") {
      const next = input.argv[++i];
      if (next === undefined) problems.push("--config-file needs a path");
      else files.push(next);
    } else if (arg.startsWith("--config-file=")) {
      files.push(arg.slice("--config-file=".length));
    } else {
      problems.push(`unknown command-line argument "${arg}" (only --config-file PATH is accepted)`);
    }
  }
  const fromEnv = input.env[CONFIG_FILE_ENV];
  if (files.length === 0 && fromEnv) files.push(fromEnv);
  return files;
}

function readServer(r: OptionReader, datasource: PrometheusSourceConfig | AetosSourceConfig): ServerConfig {
  const listen = readListen(r);
  const tls = r.keyPair(SERVICE_SECTION, "tls_certfile", "tls_keyfile");
  const { callerAuth, clientCa } = readCallerAuth(r, datasource, tls !== undefined);
  const allowNetwork = r.boolean(SERVICE_SECTION, "allow_unauthenticated_network");
  // A unix socket is reached from this host (or pod) only, and its file mode says by whom.
  const beyondLoopback = listen?.kind === "tcp" && !isLoopback(listen.host);
  if (callerAuth.kind === "none" && beyondLoopback && !allowNetwork) {
    r.reject(
      SERVICE_SECTION,
      "listen",
      "with caller_auth = none every caller reads with the service's own credentials, so the gRPC port listens only on loopback (127.0.0.0/8, ::1, localhost); set caller_auth to mtls or keystone, or allow_unauthenticated_network = true to serve this address anyway",
    );
  }
  if (callerAuth.kind === "keystone" && beyondLoopback && tls === undefined) {
    r.reject(
      SERVICE_SECTION,
      "caller_auth",
      "keystone tokens would cross the network in clear text: set tls_certfile and tls_keyfile, or listen on loopback",
    );
  }
  const adminValue = r.string(SERVICE_SECTION, "admin_listen");
  const admin = adminValue === undefined ? undefined : parseTcpAddress(adminValue);
  if (adminValue !== undefined && !admin) {
    r.problems.push(
      `[${SERVICE_SECTION}] admin_listen: must be host:port, e.g. 0.0.0.0:9464 or [::]:9464, or empty to turn it off`,
    );
  }
  return {
    listen: listen ?? { kind: "tcp", host: "127.0.0.1", port: 0 },
    callerAuth,
    unauthenticatedNetwork: callerAuth.kind === "none" && beyondLoopback,
    tls: tls && serverTls(r, tls, clientCa),
    tlsReloadIntervalMs: r.number(SERVICE_SECTION, "tls_reload_interval", 0) * 1000,
    logLevel: (r.string(SERVICE_SECTION, "log_level") ?? "info") as LogLevel,
    shutdownGraceMs: r.number(SERVICE_SECTION, "shutdown_grace_period", 0) * 1000,
    targetRefreshIntervalMs: r.number(SERVICE_SECTION, "target_refresh_interval", 0) * 1000,
    seriesRefreshIntervalMs: r.number(SERVICE_SECTION, "series_refresh_interval", 0) * 1000,
    maxConcurrentUpstreamQueries: r.integer(SERVICE_SECTION, "max_concurrent_upstream_queries", 1, 100_000),
    upstreamQueueTimeoutMs: r.number(SERVICE_SECTION, "upstream_queue_timeout", 0) * 1000,
    queryCacheTtlMs: r.number(SERVICE_SECTION, "query_cache_ttl", 0) * 1000,
    admin,
    readinessIntervalMs: r.number(SERVICE_SECTION, "readiness_interval", 0.1, 3600) * 1000,
  };
}

const SUBJECT_FORMS = /^(CN=|DNS:|URI:)./;

function readCallerAuth(
  r: OptionReader,
  datasource: PrometheusSourceConfig | AetosSourceConfig,
  serverTls: boolean,
): { callerAuth: CallerAuth; clientCa: Buffer | undefined } {
  const kind = r.string(SERVICE_SECTION, "caller_auth") ?? "none";
  const forward = datasource.kind === "aetos" && datasource.forwardCallerToken;
  if (forward && kind !== "keystone") {
    r.reject("aetos_client", "forward_caller_token", "needs [metrics_access] caller_auth = keystone");
  }
  if (kind === "mtls") {
    if (!serverTls) {
      r.reject(
        SERVICE_SECTION,
        "caller_auth",
        "mtls needs tls_certfile and tls_keyfile (the server's own certificate)",
      );
    }
    const ca = r.file(SERVICE_SECTION, "tls_client_cafile");
    if (!r.isSet(SERVICE_SECTION, "tls_client_cafile")) {
      r.problems.push(`[${SERVICE_SECTION}] tls_client_cafile: required with caller_auth = mtls`);
    } else if (ca !== undefined && !ca.toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
      r.reject(SERVICE_SECTION, "tls_client_cafile", "holds no PEM certificate");
    }
    const allowedSubjects = r.list(SERVICE_SECTION, "tls_client_allowed_subjects") ?? [];
    for (const subject of allowedSubjects) {
      if (!SUBJECT_FORMS.test(subject)) {
        r.reject(
          SERVICE_SECTION,
          "tls_client_allowed_subjects",
          `"${subject}" is not CN=<name>, DNS:<name> or URI:<uri>`,
        );
      }
    }
    // The CA goes to the TLS server (ServerTls.clientCa), which reloads it with the certificate.
    return { callerAuth: { kind, allowedSubjects }, clientCa: ca };
  }
  if (kind === "keystone") {
    const roles = r.list(SERVICE_SECTION, "caller_roles") ?? [];
    if (roles.length === 0) r.reject(SERVICE_SECTION, "caller_roles", "name at least one role");
    const callerAuth: CallerAuth = {
      kind,
      keystone:
        datasource.kind === "aetos" ? datasource.keystone : readKeystone(r, "for caller_auth = keystone"),
      roles,
      cacheTimeMs: r.number(SERVICE_SECTION, "token_cache_time", 0) * 1000,
      cacheSize: r.integer(SERVICE_SECTION, "token_cache_size", 1, 10_000_000),
    };
    return { callerAuth, clientCa: undefined };
  }
  return { callerAuth: { kind: "none" }, clientCa: undefined };
}

/** Whether a listen host is reachable only from this machine (a name other than localhost is not). */
function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  const v4 = host.startsWith("::ffff:") ? host.slice(7) : host;
  return isIPv4(v4) && v4.startsWith("127.");
}

/** `[metrics_access] listen`: host:port or unix:/absolute/path; undefined (and a problem) when malformed. */
function readListen(r: OptionReader): ListenAddress | undefined {
  const listen = parseListenAddress(r.string(SERVICE_SECTION, "listen") ?? "");
  if (!listen) {
    r.problems.push(
      `[${SERVICE_SECTION}] listen: must be host:port, e.g. 127.0.0.1:50051 or [::1]:50051, or unix: and an absolute path, e.g. unix:/run/metrics-access/grpc.sock`,
    );
  } else if (listen.kind === "unix" && Buffer.byteLength(listen.path) > MAX_UNIX_PATH_BYTES) {
    r.reject(SERVICE_SECTION, "listen", `a unix socket path is at most ${MAX_UNIX_PATH_BYTES} bytes`);
    return undefined;
  }
  return listen;
}

/**
 * The server's key pair with the files it came from, which the transport reads again when they
 * change (rotation); with caller_auth = mtls, the client CA too, for the same reason.
 */
function serverTls(
  r: OptionReader,
  pair: { cert: Buffer; key: Buffer },
  clientCa: Buffer | undefined,
): ServerTls {
  const path = (name: string) => r.string(SERVICE_SECTION, name) ?? "";
  return {
    ...pair,
    certFile: path("tls_certfile"),
    keyFile: path("tls_keyfile"),
    clientCa: clientCa && { pem: clientCa, file: path("tls_client_cafile") },
  };
}

function chooseDatasource(r: OptionReader): "prometheus" | "aetos" {
  const listed = r.list("watcher_datasources", "datasources");
  if (listed === undefined) {
    return r.isSet("prometheus_client", "host") ? "prometheus" : "aetos";
  }
  const hasPrometheus = listed.includes("prometheus");
  const hasAetos = listed.includes("aetos");
  if (hasPrometheus && hasAetos) {
    r.problems.push(
      "[watcher_datasources] datasources: prometheus and aetos cannot both be configured (as in Watcher); keep one",
    );
  } else if (!hasPrometheus && !hasAetos) {
    r.problems.push(
      `[watcher_datasources] datasources: lists neither prometheus nor aetos (got: ${listed.join(", ") || "nothing"})`,
    );
  }
  return hasAetos && !hasPrometheus ? "aetos" : "prometheus";
}

function readPrometheus(r: OptionReader): PrometheusSourceConfig {
  const s = "prometheus_client";
  const host = r.hostName(s, "host");
  if (!r.isSet(s, "host")) r.problems.push(`[${s}] host: required for the prometheus datasource`);
  const port = r.integer(s, "port", 1, 65535);
  const ca = r.file(s, "cafile");
  const clientCert = r.keyPair(s, "certfile", "keyfile");
  const username = r.string(s, "username");
  const password = r.string(s, "password");
  if ((username === undefined) !== (password === undefined)) {
    r.problems.push(`[${s}] username, password: set both or neither`);
  }
  const useTls = r.boolean(s, "use_tls") || r.isSet(s, "cafile") || r.isSet(s, "certfile");
  const rootPath = (r.string(s, "root_path") ?? "").replace(/^\/+|\/+$/g, "");
  if (!/^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(rootPath)) {
    r.reject(s, "root_path", "must be a URL path without query or fragment");
  }
  const hostPart = host !== undefined && isIPv6(host) ? `[${host}]` : (host ?? "localhost");
  return {
    kind: "prometheus",
    origin: `${useTls ? "https" : "http"}://${hostPart}:${port}`,
    rootPath: rootPath === "" ? "" : `/${rootPath}`,
    tls: useTls ? { ca, cert: clientCert?.cert, key: clientCert?.key, rejectUnauthorized: true } : undefined,
    basicAuth: username !== undefined && password !== undefined ? { username, password } : undefined,
    requestHeaders: readRequestHeaders(r, username !== undefined && password !== undefined),
    timeoutMs: r.positiveSeconds(s, "timeout"),
    labels: { fqdn: r.labelName(s, "fqdn_label"), instanceUuid: r.labelName(s, "instance_uuid_label") },
  };
}

function readAetos(r: OptionReader): AetosSourceConfig {
  const s = "aetos_client";
  return {
    kind: "aetos",
    keystone: readKeystone(r, "for the aetos datasource"),
    interface: (r.string(s, "interface") ?? "public").replace(/URL$/, "") as CatalogInterface,
    regionName: r.string(s, "region_name"),
    maxUrlLength: r.integer(s, "max_url_length", 256, 1_048_576),
    requirePrivilegedRole: r.boolean(s, "require_privileged_role"),
    forwardCallerToken: r.boolean(s, "forward_caller_token"),
    labels: { fqdn: r.labelName(s, "fqdn_label"), instanceUuid: r.labelName(s, "instance_uuid_label") },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
