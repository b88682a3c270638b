/**
 * Every option the service reads, as data: the single source for parsing, defaults, secrecy and
 * the option reference in docs/configuration.md. Section and option names are Watcher's wherever
 * Watcher has the option, so an operator can point the service at the watcher.conf they have.
 */
export type OptionType = "string" | "integer" | "number" | "boolean" | "list" | "path";

export interface OptionSpec {
  readonly section: string;
  readonly name: string;
  readonly type: OptionType;
  readonly help: string;
  readonly default?: string;
  readonly choices?: readonly string[];
  /** Never logged, never echoed in an error message. */
  readonly secret?: boolean;
}

export const SERVICE_SECTION = "metrics_access";

const labelHelp = "Target label that holds each exporter's host FQDN, used for host metrics.";
const uuidHelp = "Label that holds the OpenStack instance UUID, used for instance metrics.";

export const OPTIONS: readonly OptionSpec[] = [
  {
    section: SERVICE_SECTION,
    name: "listen",
    type: "string",
    default: "127.0.0.1:50051",
    help: "Address and port the gRPC server listens on (gRPC, gRPC-Web and Connect on one port); IPv6 as [::1]:50051. Or a unix socket, unix:/absolute/path.sock (gRPC clients dial unix:///absolute/path.sock), for a client on the same host or in the same pod: it counts as loopback, the file is made mode 0660 (owner and group may connect), a stale one left by a killed run is replaced, and it is removed at stop.",
  },
  {
    section: SERVICE_SECTION,
    name: "caller_auth",
    type: "string",
    default: "none",
    choices: ["none", "mtls", "keystone"],
    help: "How callers of MetricsService are authenticated (health and reflection stay open, for probes and debugging). none: they are not, so every caller reads with the service's own credentials; then listen must be a loopback address (127.0.0.0/8, ::1, localhost) or a unix socket unless allow_unauthenticated_network is true. mtls: callers present a client certificate signed by tls_client_cafile (needs tls_certfile and tls_keyfile), optionally one of tls_client_allowed_subjects. keystone: callers send a Keystone token in x-auth-token, validated with the credentials of [watcher_clients_auth]; it must carry one of caller_roles.",
  },
  {
    section: SERVICE_SECTION,
    name: "allow_unauthenticated_network",
    type: "boolean",
    default: "false",
    help: "With caller_auth = none, let listen be an address other than loopback, for a network only trusted callers reach; every start then logs a warning.",
  },
  {
    section: SERVICE_SECTION,
    name: "admin_listen",
    type: "string",
    default: "127.0.0.1:9464",
    help: "Address and port of the admin HTTP server (GET /healthz, /readyz and /metrics), apart from the gRPC port; empty turns it off. In a sidecar, 0.0.0.0:9464 lets kubelet probe it while listen stays on loopback.",
  },
  {
    section: SERVICE_SECTION,
    name: "readiness_interval",
    type: "number",
    default: "5",
    help: "Seconds between two probes of the upstream (Prometheus, or the Keystone token and Aetos), each given as long to answer (1 s at least). /readyz and the gRPC health service follow the last probe.",
  },
  {
    section: SERVICE_SECTION,
    name: "log_level",
    type: "string",
    default: "info",
    choices: ["trace", "debug", "info", "warn", "error", "fatal", "silent"],
    help: "Lowest level written to the JSON log on stdout.",
  },
  {
    section: SERVICE_SECTION,
    name: "tls_certfile",
    type: "path",
    help: "Server certificate (PEM). With tls_keyfile, the server speaks TLS (HTTP/2 and HTTP/1.1) instead of plaintext h2c.",
  },
  { section: SERVICE_SECTION, name: "tls_keyfile", type: "path", help: "Private key (PEM) of tls_certfile." },
  {
    section: SERVICE_SECTION,
    name: "tls_reload_interval",
    type: "number",
    default: "10",
    help: "Seconds between two looks at tls_certfile, tls_keyfile and tls_client_cafile: when they have changed (certificate rotation), new connections get the new files and open connections are not dropped. 0 reads them at start-up only.",
  },
  {
    section: SERVICE_SECTION,
    name: "tls_client_cafile",
    type: "path",
    help: "CA bundle (PEM) that signs the client certificates of callers; required with caller_auth = mtls, unused otherwise.",
  },
  {
    section: SERVICE_SECTION,
    name: "tls_client_allowed_subjects",
    type: "list",
    help: "With caller_auth = mtls, the client certificates admitted, by subject, comma separated: CN=<common name>, DNS:<subjectAltName DNS name> or URI:<subjectAltName URI> (a SPIFFE ID such as URI:spiffe://example.org/ns/watcher/sa/engine). Unset admits every certificate tls_client_cafile signed.",
  },
  {
    section: SERVICE_SECTION,
    name: "caller_roles",
    type: "list",
    default: "admin,service",
    help: "With caller_auth = keystone, a caller's token must carry one of these roles. Unless [aetos_client] forward_caller_token is true, an admitted caller reads every project's metrics with the service's own credentials: keep the list to admin and service then.",
  },
  {
    section: SERVICE_SECTION,
    name: "token_cache_time",
    type: "number",
    default: "300",
    help: "With caller_auth = keystone, seconds a validated caller token (or a token Keystone refused) is remembered before Keystone is asked again, never past the token's expiry (keystonemiddleware's token_cache_time).",
  },
  {
    section: SERVICE_SECTION,
    name: "token_cache_size",
    type: "integer",
    default: "10000",
    help: "With caller_auth = keystone, most caller tokens remembered at once; the least recently used is forgotten first.",
  },
  {
    section: SERVICE_SECTION,
    name: "shutdown_grace_period",
    type: "number",
    default: "10",
    help: "Seconds that calls in flight get to finish after SIGTERM before they are cancelled.",
  },
  {
    section: SERVICE_SECTION,
    name: "series_refresh_interval",
    type: "number",
    default: "10",
    help: "Seconds one read of the backend's series names (GET /api/v1/label/__name__/values) is trusted, when an empty answer is told apart from an absent series and when ListMetrics reports availability.",
  },
  {
    section: SERVICE_SECTION,
    name: "query_cache_ttl",
    type: "number",
    default: "0",
    help: "Seconds a query's answer is kept and served again; 0 turns the cache off. When on, queries are evaluated at times aligned to this step, so that a cached answer is exactly what the backend answers for that time. Identical queries in flight at the same moment are always sent once.",
  },
  {
    section: SERVICE_SECTION,
    name: "max_concurrent_upstream_queries",
    type: "integer",
    default: "64",
    help: "Most requests to the upstream (Prometheus, or Aetos) in flight at once, across all callers; a call past it waits for a free place until upstream_queue_timeout or until just before its deadline, then fails with RESOURCE_EXHAUSTED (UPSTREAM_QUERY_LIMIT). Coalesced and cached answers take no place.",
  },
  {
    section: SERVICE_SECTION,
    name: "upstream_queue_timeout",
    type: "number",
    default: "5",
    help: "Most seconds a call waits for a place under max_concurrent_upstream_queries.",
  },
  {
    section: SERVICE_SECTION,
    name: "target_refresh_interval",
    type: "number",
    default: "10",
    help: "Least number of seconds between two re-reads of Prometheus's active targets caused by unknown hosts.",
  },
  {
    section: "watcher_datasources",
    name: "datasources",
    type: "list",
    help: "Watcher's datasource list. Exactly one of prometheus and aetos must be in it; other names are ignored. When unset: prometheus if [prometheus_client] host is set, aetos otherwise.",
  },
  {
    section: "prometheus_client",
    name: "host",
    type: "string",
    help: "Prometheus host name or IP address (IPv6 with or without brackets). Required for the prometheus datasource.",
  },
  { section: "prometheus_client", name: "port", type: "integer", default: "9090", help: "Prometheus port." },
  { section: "prometheus_client", name: "fqdn_label", type: "string", default: "fqdn", help: labelHelp },
  {
    section: "prometheus_client",
    name: "instance_uuid_label",
    type: "string",
    default: "resource",
    help: uuidHelp,
  },
  {
    section: "prometheus_client",
    name: "username",
    type: "string",
    help: "Basic-auth user; needs password.",
  },
  {
    section: "prometheus_client",
    name: "password",
    type: "string",
    secret: true,
    help: "Basic-auth password; needs username.",
  },
  {
    section: "prometheus_client",
    name: "cafile",
    type: "path",
    help: "CA bundle (PEM) that verifies Prometheus's certificate. Setting it switches to https, as in Watcher.",
  },
  {
    section: "prometheus_client",
    name: "certfile",
    type: "path",
    help: "Client certificate (PEM) for mutual TLS; needs keyfile. Unlike Watcher, cafile is not required.",
  },
  { section: "prometheus_client", name: "keyfile", type: "path", help: "Private key (PEM) of certfile." },
  {
    section: "prometheus_client",
    name: "use_tls",
    type: "boolean",
    default: "false",
    help: "Use https even without cafile, verifying against Node's bundled CA store (add private CAs with NODE_EXTRA_CA_CERTS, or use cafile). (Not in Watcher.)",
  },
  {
    section: "prometheus_client",
    name: "root_path",
    type: "string",
    default: "",
    help: "Path prefix Prometheus is served under (its --web.route-prefix), e.g. prometheus; also a multi-tenant store's tenant path, e.g. select/0/prometheus for VictoriaMetrics cluster's vmselect. (Not in Watcher.)",
  },
  {
    section: "prometheus_client",
    name: "request_headers",
    type: "string",
    secret: true,
    help: "Headers sent on every request to Prometheus, as Name: value, e.g. X-Scope-OrgID: tenant-a for Mimir, Cortex or Thanos. Several are separated by commas (X-Scope-OrgID: tenant-a, X-Team: ops) or, when a value holds a comma, one per line (INI continuation lines, or newlines in the environment variable). A token may be given too (Authorization: Bearer …, unless username and password are set). Header names the client sets itself or that concern one connection only (Host, Content-Length, Content-Type, Accept, Connection, Transfer-Encoding, Expect, …) are refused. (Not in Watcher.)",
  },
  {
    section: "prometheus_client",
    name: "timeout",
    type: "number",
    default: "30",
    help: "Seconds to wait for Prometheus's answer (headers, then body); connecting takes at most 10 s; the caller's deadline applies too. (Not in Watcher.)",
  },
  {
    section: "aetos_client",
    name: "interface",
    type: "string",
    default: "public",
    choices: ["public", "internal", "admin", "publicURL", "internalURL", "adminURL"],
    help: "Keystone catalog interface of the metric-storage endpoint.",
  },
  {
    section: "aetos_client",
    name: "region_name",
    type: "string",
    help: "Catalog region of the metric-storage endpoint; unset means the first match in catalog order.",
  },
  { section: "aetos_client", name: "fqdn_label", type: "string", default: "fqdn", help: labelHelp },
  {
    section: "aetos_client",
    name: "max_url_length",
    type: "integer",
    default: "8000",
    help: "Longest request line sent to Aetos (GET only), in bytes, 256 or more: batch queries are split into chunks under it. Apache's default limit is 8190, uWSGI's buffer 4096. (Not in Watcher.)",
  },
  {
    section: "aetos_client",
    name: "instance_uuid_label",
    type: "string",
    default: "resource",
    help: uuidHelp,
  },
  {
    section: "aetos_client",
    name: "require_privileged_role",
    type: "boolean",
    default: "false",
    help: "Refuse to start (exit 1, KEYSTONE_ROLE_INSUFFICIENT) when the token of [watcher_clients_auth] has neither the admin nor the service role. Without one of them Aetos confines every query to the token's project, so instances of other projects answer with no value, and refuses the targets, so ListHosts and host metrics fail (UNAVAILABLE, UPSTREAM_FORBIDDEN); when false, such a token only draws a warning at start-up. (Not in Watcher.)",
  },
  {
    section: "aetos_client",
    name: "forward_caller_token",
    type: "boolean",
    default: "false",
    help: "With caller_auth = keystone, query Aetos with each caller's own token instead of the service's, so that Aetos applies its project scoping to that caller: a project member reads its own project's instance metrics and nothing of another project's. Answers are then never shared between callers (no coalescing, no cache across tokens). (Not in Watcher.)",
  },
  {
    section: "watcher_clients_auth",
    name: "auth_type",
    type: "string",
    choices: ["password", "v3password", "v3applicationcredential"],
    help: "keystoneauth plugin: password and v3password (user + project scope) or v3applicationcredential.",
  },
  {
    section: "watcher_clients_auth",
    name: "auth_url",
    type: "string",
    help: "Keystone URL, e.g. https://keystone:5000/v3.",
  },
  {
    section: "watcher_clients_auth",
    name: "username",
    type: "string",
    help: "User name; needs a user domain.",
  },
  {
    section: "watcher_clients_auth",
    name: "user_id",
    type: "string",
    help: "User id (instead of username).",
  },
  { section: "watcher_clients_auth", name: "password", type: "string", secret: true, help: "User password." },
  {
    section: "watcher_clients_auth",
    name: "user_domain_name",
    type: "string",
    help: "Domain name of username.",
  },
  { section: "watcher_clients_auth", name: "user_domain_id", type: "string", help: "Domain id of username." },
  {
    section: "watcher_clients_auth",
    name: "project_name",
    type: "string",
    help: "Project to scope the token to; needs a project domain.",
  },
  {
    section: "watcher_clients_auth",
    name: "project_id",
    type: "string",
    help: "Project id to scope the token to.",
  },
  {
    section: "watcher_clients_auth",
    name: "project_domain_name",
    type: "string",
    help: "Domain name of project_name.",
  },
  {
    section: "watcher_clients_auth",
    name: "project_domain_id",
    type: "string",
    help: "Domain id of project_name.",
  },
  {
    section: "watcher_clients_auth",
    name: "application_credential_id",
    type: "string",
    help: "Application credential id (v3applicationcredential).",
  },
  {
    section: "watcher_clients_auth",
    name: "application_credential_name",
    type: "string",
    help: "Application credential name; needs user_id or username with a user domain.",
  },
  {
    section: "watcher_clients_auth",
    name: "application_credential_secret",
    type: "string",
    secret: true,
    help: "Application credential secret.",
  },
  {
    section: "watcher_clients_auth",
    name: "cafile",
    type: "path",
    help: "CA bundle (PEM) that verifies Keystone's and Aetos's certificates (Watcher's stack ignores it for Aetos; we do not).",
  },
  {
    section: "watcher_clients_auth",
    name: "certfile",
    type: "path",
    help: "Client certificate (PEM) for Keystone and Aetos.",
  },
  { section: "watcher_clients_auth", name: "keyfile", type: "path", help: "Private key (PEM) of certfile." },
  {
    section: "watcher_clients_auth",
    name: "insecure",
    type: "boolean",
    default: "false",
    help: "Skip certificate verification for Keystone and Aetos. For tests only.",
  },
  {
    section: "watcher_clients_auth",
    name: "timeout",
    type: "number",
    default: "30",
    help: "Seconds to wait for Keystone's or Aetos's answer (headers, then body); connecting takes at most 10 s (keystoneauth has no default; we use 30).",
  },
];

/** The environment variable that overrides an option: METRICS_ACCESS__<SECTION>__<OPTION>, upper case. */
export function environmentName(spec: Pick<OptionSpec, "section" | "name">): string {
  // A dot cannot stand in an environment variable's name: metric.<name> becomes METRIC__<NAME>.
  return `METRICS_ACCESS__${spec.section.replace(".", "__").toUpperCase()}__${spec.name.toUpperCase()}`;
}
