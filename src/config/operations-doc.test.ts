/**
 * docs/operations.md held to the code, both ways, so that it cannot drift.
 *
 * The doc lists messages as templates: a word in angle brackets in lower case (`<value>`) stands
 * for any text, the rest is literal. Each table row's first cell is a template.
 *
 *  1. Configuration errors (exit 2). Bad inputs run through loadConfig, the loader the service
 *     uses. Each input must print the problem it is there for; every problem any input prints must
 *     match a documented template (nothing printed is missing from the doc); every documented
 *     template must be matched by a printed problem (the doc lists nothing the loader does not
 *     print). Inputs only find the messages someone thought of, so the configuration code is read
 *     as well, with the TypeScript parser: every text it hands to a problem-reporting call
 *     (`problems.push`, `fail`, `reject`, `required`, `problem`, `text`, `new SyntaxError`) must
 *     appear, its pieces in order, in a documented template. A new message without a doc row fails.
 *  2. Start-up failures (exit 1). The same both ways for failures provoked through startApp, the
 *     service's own start: a taken port, a TLS key that is not PEM, and Keystone stand-ins on
 *     127.0.0.1 that refuse, fail, hang or hand out catalogs without a usable Aetos. The reason
 *     column must be the error's reason, and every reason that can end a start (the start-up-only
 *     ones, every KEYSTONE_*, UPSTREAM_UNREACHABLE) must have a row.
 *  3. What the process prints around them: the real entry point (`node --import tsx src/main.ts`)
 *     is run for one case of each exit code; its stderr must be the doc's example, or fit its form.
 *  4. The log: every message the code hands to the logger is a row of the log table, at the same
 *     level, and every row is one the code writes.
 *  5. Self-metrics: the metric tables list exactly the families a real SelfMetrics exposes, with
 *     their types and label names.
 *  6. Alerts: the doc's alert table and runbook headings name exactly the alerts of
 *     deploy/prometheus/alerts.yml, whose runbook annotations point at those headings.
 *     (test/integration/alert-rules.test.ts checks the rules themselves with promtool and a real
 *     Prometheus.)
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, Server as HttpServer, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMain } from "../../test/support/interop-process.js";
import { startApp } from "../app.js";
import { ERROR_REASONS, isMetricsAccessError, STARTUP_ONLY_REASONS } from "../errors.js";
import { createLogger } from "../log.js";
import { SelfMetrics } from "../server/self-metrics.js";
import { ConfigError, loadConfig } from "./load.js";
import { environmentName } from "./schema.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DOC = readFileSync(join(ROOT, "docs", "operations.md"), "utf8");

// ---------------------------------------------------------------------------------------------
// Reading the doc

/** The text under `heading` (e.g. "### Start-up failures (exit code 1)") up to the next heading of its level or above. */
function part(heading: string): string {
  const start = DOC.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/operations.md has no heading "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const rest = DOC.slice(start + heading.length + 2);
  const next = rest.search(new RegExp(`^#{1,${level}} `, "m"));
  return next < 0 ? rest : rest.slice(0, next);
}

/** The cells of every table row of `text` whose first cell is code (header rows are not). */
function rows(text: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) =>
      line
        .slice(1, -1)
        .split(" | ")
        .map((cell) => cell.trim()),
    );
}

function codeOf(cell: string | undefined): string {
  const match = /^`([^`]+)`$/.exec(cell ?? "");
  if (!match?.[1]) throw new Error(`not a code cell: ${cell}`);
  return match[1];
}

const PLACEHOLDER = /<[a-z][a-z0-9 _-]*>/g;

function pattern(template: string): RegExp {
  const literal = template.split(PLACEHOLDER).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${literal.join("[\\s\\S]*?")}$`);
}

/** Whether `parts` occur in `text` one after the other. */
function inOrder(text: string, parts: readonly string[]): boolean {
  let at = 0;
  for (const p of parts) {
    const found = text.indexOf(p, at);
    if (found < 0) return false;
    at = found + p.length;
  }
  return true;
}

/** The printed problem without its ` [from …]` ending, which the doc's tables leave out. */
function withoutSource(problem: string): string {
  return problem.replace(/ \[from [^\]]*\]$/, "");
}

// ---------------------------------------------------------------------------------------------
// Reading the code

interface MessageSite {
  readonly where: string;
  /** The literal pieces of the text, in order; the interpolated parts fall between them. */
  readonly pieces: readonly string[];
  /** For logger calls: the level. */
  readonly callee: string;
}

function literalPieces(node: ts.Node): string[] | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text];
  if (ts.isTemplateExpression(node))
    return [node.head.text, ...node.templateSpans.map((s) => s.literal.text)];
  return undefined;
}

function calleeName(expression: ts.Expression): string {
  if (ts.isIdentifier(expression)) return expression.text;
  if (ts.isPropertyAccessExpression(expression)) return expression.name.text;
  return "";
}

/**
 * Every call in `file` that `select` accepts (given its callee's name and full text, and the name
 * of the function around it), with the literal pieces of the arguments `args` picks.
 */
function callSites(
  file: string,
  select: (name: string, calleeText: string, inFunction: string | undefined) => boolean,
  args: (all: readonly ts.Expression[]) => readonly ts.Expression[],
): MessageSite[] {
  const path = join(ROOT, file);
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
  const sites: MessageSite[] = [];
  const visit = (node: ts.Node, inFunction: string | undefined): void => {
    const fn = ts.isFunctionDeclaration(node) && node.name ? node.name.text : inFunction;
    const call =
      ts.isCallExpression(node) || (ts.isNewExpression(node) && node.arguments !== undefined)
        ? node
        : undefined;
    if (call && select(calleeName(call.expression), call.expression.getText(source), fn)) {
      for (const arg of args(call.arguments ?? [])) {
        const pieces = literalPieces(arg);
        if (pieces === undefined) continue;
        const line = source.getLineAndCharacterOfPosition(arg.getStart(source)).line + 1;
        sites.push({ where: `${file}:${line}`, pieces, callee: calleeName(call.expression) });
      }
    }
    ts.forEachChild(node, (child) => visit(child, fn));
  };
  visit(source, undefined);
  return sites;
}

// ---------------------------------------------------------------------------------------------
// 1. Configuration errors

const CONFIG_ROWS = rows(part("### Configuration errors (exit code 2)"));
const CONFIG_TEMPLATES = CONFIG_ROWS.map((r) => codeOf(r[0]));

/** Options as `section.option` → value, given as the environment variables an operator would set. */
function asEnv(options: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(options)) {
    const split = key.lastIndexOf(".");
    env[environmentName({ section: key.slice(0, split), name: key.slice(split + 1) })] = value;
  }
  return env;
}

interface ConfigCase {
  readonly why: string;
  /** Options through the environment (`section.option`). */
  readonly options?: Readonly<Record<string, string>>;
  /** Raw environment variables. */
  readonly env?: NodeJS.ProcessEnv;
  /** Config files given with --config-file, path → text. */
  readonly files?: Readonly<Record<string, string>>;
  /** Problems it must print, without their ` [from …]` ending. */
  readonly prints: readonly string[];
}

const PROM = { "prometheus_client.host": "prom.example" };
const AETOS = {
  "watcher_datasources.datasources": "aetos",
  "watcher_clients_auth.auth_type": "password",
  "watcher_clients_auth.auth_url": "https://keystone.example:5000/v3",
  "watcher_clients_auth.username": "watcher",
  "watcher_clients_auth.user_domain_name": "Default",
  "watcher_clients_auth.password": "not-a-real-password",
  "watcher_clients_auth.project_name": "service",
  "watcher_clients_auth.project_domain_name": "Default",
};
const APP_CREDENTIAL = {
  "watcher_datasources.datasources": "aetos",
  "watcher_clients_auth.auth_type": "v3applicationcredential",
  "watcher_clients_auth.auth_url": "https://keystone.example:5000/v3",
};
/** A real certificate and its key, and a key of another, for the loader's TLS checks (openssl). */
const PKI = (() => {
  const both = execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      "-",
      "-subj",
      "/CN=operations-doc",
      "-days",
      "1",
    ]),
    { encoding: "utf8" },
  );
  const cert = both.slice(both.indexOf("-----BEGIN CERTIFICATE-----"));
  const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  });
  return { cert, otherKey: String(otherKey) };
})();
/** Files that exist for the file options (certificates); not configuration files. */
const READABLE: Readonly<Record<string, string>> = {
  "/etc/pki/cert.pem": "a certificate",
  "/etc/pki/real-cert.pem": PKI.cert,
  "/etc/pki/other-key.pem": PKI.otherKey,
};
const KNOWN = "{{matcher}}, {{label}}, {{agg}}, {{period}}, {{vcpus}}";

const CONFIG_CASES: readonly ConfigCase[] = [
  {
    why: "a missing file",
    files: {},
    env: { METRICS_ACCESS_CONFIG_FILE: "/etc/missing.conf" },
    prints: ["cannot read /etc/missing.conf (ENOENT)"],
  },
  {
    why: "a line that is no INI",
    files: { "/a.conf": "[metrics_access]\nthis line means nothing\n" },
    prints: ['/a.conf:2: expected "[section]" or "option = value"'],
  },
  {
    why: "an option before any section",
    files: { "/a.conf": "listen = 127.0.0.1:1\n" },
    prints: ['/a.conf:1: option "listen" appears before any [section]'],
  },
  {
    why: "a typo in [metrics_access]",
    files: {
      "/a.conf": "[metrics_access]\nlisten_adress = 0.0.0.0:1\n[prometheus_client]\nhost = prom.example\n",
    },
    prints: ["[metrics_access] listen_adress: unknown option"],
  },
  {
    why: "a variable that names no option",
    options: PROM,
    env: { METRICS_ACCESS__PROMETHEUS_CLIENT__HOSTNAME: "x" },
    prints: [
      "environment METRICS_ACCESS__PROMETHEUS_CLIENT__HOSTNAME: no such option (the rule is METRICS_ACCESS__<SECTION>__<OPTION>)",
    ],
  },
  {
    why: "a typo in a metric section",
    options: PROM,
    files: { "/a.conf": "[metric.host_power]\nseriess = x\n" },
    prints: [
      "[metric.host_power] seriess: unknown option (known: series, template, subject, unit, label, invert_min_max, description)",
    ],
  },
  {
    why: "a metric section that cannot be a metric's name",
    options: PROM,
    files: { "/a.conf": "[metric.Host-Power]\nunit = W\n" },
    prints: [
      "[metric.Host-Power]: a metric name is 1 to 64 lower-case letters, digits and _, starting with a letter",
    ],
  },
  {
    why: "a value out of a list",
    options: { ...PROM, "metrics_access.log_level": "loud" },
    prints: [
      '[metrics_access] log_level "loud": must be one of trace, debug, info, warn, error, fatal, silent',
    ],
  },
  {
    why: "a port that is no integer",
    options: { ...PROM, "prometheus_client.port": "abc" },
    prints: ['[prometheus_client] port "abc": must be an integer from 1 to 65535'],
  },
  {
    why: "a negative grace period",
    options: { ...PROM, "metrics_access.shutdown_grace_period": "-1" },
    prints: ['[metrics_access] shutdown_grace_period "-1": must be a number from 0 to 86400'],
  },
  {
    why: "a boolean that is neither",
    options: { ...PROM, "prometheus_client.use_tls": "maybe" },
    prints: ['[prometheus_client] use_tls "maybe": must be true or false'],
  },
  {
    why: "a label name with a dash",
    options: { ...PROM, "prometheus_client.fqdn_label": "host-name" },
    prints: [
      '[prometheus_client] fqdn_label "host-name": must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)',
    ],
  },
  {
    why: "an unreadable certificate",
    options: {
      ...PROM,
      "metrics_access.tls_certfile": "/etc/pki/missing.pem",
      "metrics_access.tls_keyfile": "/etc/pki/cert.pem",
    },
    prints: ['[metrics_access] tls_certfile: cannot read "/etc/pki/missing.pem" (ENOENT)'],
  },
  {
    why: "a certificate file that is not PEM",
    options: {
      ...PROM,
      "metrics_access.tls_certfile": "/etc/pki/cert.pem",
      "metrics_access.tls_keyfile": "/etc/pki/other-key.pem",
    },
    prints: ['[metrics_access] tls_certfile "/etc/pki/cert.pem": holds no PEM certificate'],
  },
  {
    why: "a key file that is not PEM",
    options: {
      ...PROM,
      "prometheus_client.certfile": "/etc/pki/real-cert.pem",
      "prometheus_client.keyfile": "/etc/pki/cert.pem",
    },
    prints: [
      '[prometheus_client] keyfile "/etc/pki/cert.pem": holds no PEM private key without a passphrase',
    ],
  },
  {
    why: "a key of another certificate",
    options: {
      ...AETOS,
      "watcher_clients_auth.certfile": "/etc/pki/real-cert.pem",
      "watcher_clients_auth.keyfile": "/etc/pki/other-key.pem",
    },
    prints: ["[watcher_clients_auth] certfile, keyfile: the key does not belong to the certificate"],
  },
  {
    why: "a listen address beyond loopback without caller authentication",
    options: { ...PROM, "metrics_access.listen": "0.0.0.0:50051" },
    prints: [
      `[metrics_access] listen "0.0.0.0:50051": with caller_auth = none every caller reads with the service's own credentials, so the gRPC port listens only on loopback (127.0.0.0/8, ::1, localhost); set caller_auth to mtls or keystone, or allow_unauthenticated_network = true to serve this address anyway`,
    ],
  },
  {
    why: "mutual TLS without the server's own certificate",
    options: {
      ...PROM,
      "metrics_access.caller_auth": "mtls",
      "metrics_access.tls_client_cafile": "/etc/pki/real-cert.pem",
    },
    prints: [
      '[metrics_access] caller_auth "mtls": mtls needs tls_certfile and tls_keyfile (the server\'s own certificate)',
    ],
  },
  {
    why: "mutual TLS without a client CA",
    options: { ...PROM, "metrics_access.caller_auth": "mtls" },
    prints: ["[metrics_access] tls_client_cafile: required with caller_auth = mtls"],
  },
  {
    why: "a client CA file that is not PEM",
    options: {
      ...PROM,
      "metrics_access.caller_auth": "mtls",
      "metrics_access.tls_client_cafile": "/etc/pki/cert.pem",
    },
    prints: ['[metrics_access] tls_client_cafile "/etc/pki/cert.pem": holds no PEM certificate'],
  },
  {
    why: "an allowed subject of no known form",
    options: {
      ...PROM,
      "metrics_access.caller_auth": "mtls",
      "metrics_access.tls_client_cafile": "/etc/pki/real-cert.pem",
      "metrics_access.tls_client_allowed_subjects": "engine",
    },
    prints: [
      '[metrics_access] tls_client_allowed_subjects "engine": "engine" is not CN=<name>, DNS:<name> or URI:<uri>',
    ],
  },
  {
    why: "no caller role",
    options: { ...AETOS, "metrics_access.caller_auth": "keystone", "metrics_access.caller_roles": "," },
    prints: ['[metrics_access] caller_roles ",": name at least one role'],
  },
  {
    why: "a forwarded token without Keystone callers",
    options: { ...AETOS, "aetos_client.forward_caller_token": "true" },
    prints: ['[aetos_client] forward_caller_token "true": needs [metrics_access] caller_auth = keystone'],
  },
  {
    why: "Keystone tokens over plaintext beyond loopback",
    options: { ...AETOS, "metrics_access.caller_auth": "keystone", "metrics_access.listen": "0.0.0.0:50051" },
    prints: [
      '[metrics_access] caller_auth "keystone": keystone tokens would cross the network in clear text: set tls_certfile and tls_keyfile, or listen on loopback',
    ],
  },
  {
    why: "Keystone callers of direct Prometheus without the service's Keystone user",
    options: { ...PROM, "metrics_access.caller_auth": "keystone" },
    prints: [
      "[watcher_clients_auth] auth_url: required for caller_auth = keystone",
      "[watcher_clients_auth] auth_type: required for caller_auth = keystone (password, v3password or v3applicationcredential)",
    ],
  },
  {
    why: "a zero timeout",
    options: { ...PROM, "prometheus_client.timeout": "0" },
    prints: ["[prometheus_client] timeout: must be more than 0"],
  },
  {
    why: "a listen address without a port",
    options: { ...PROM, "metrics_access.listen": "localhost" },
    prints: [
      "[metrics_access] listen: must be host:port, e.g. 127.0.0.1:50051 or [::1]:50051, or unix: and an absolute path, e.g. unix:/run/metrics-access/grpc.sock",
    ],
  },
  {
    why: "a unix socket path too long for a socket address",
    options: { ...PROM, "metrics_access.listen": `unix:/run/${"s".repeat(110)}` },
    prints: [
      `[metrics_access] listen "unix:/run/${"s".repeat(110)}": a unix socket path is at most 107 bytes`,
    ],
  },
  {
    why: "an admin address without a host",
    options: { ...PROM, "metrics_access.admin_listen": "9464" },
    prints: [
      "[metrics_access] admin_listen: must be host:port, e.g. 0.0.0.0:9464 or [::]:9464, or empty to turn it off",
    ],
  },
  {
    why: "a certificate without its key",
    options: { ...PROM, "metrics_access.tls_certfile": "/etc/pki/cert.pem" },
    prints: ["[metrics_access] tls_certfile, tls_keyfile: set both or neither"],
  },
  {
    why: "both datasources",
    options: { ...PROM, "watcher_datasources.datasources": "prometheus,aetos" },
    prints: [
      "[watcher_datasources] datasources: prometheus and aetos cannot both be configured (as in Watcher); keep one",
    ],
  },
  {
    why: "neither datasource",
    options: { "watcher_datasources.datasources": "gnocchi" },
    prints: ["[watcher_datasources] datasources: lists neither prometheus nor aetos (got: gnocchi)"],
  },
  {
    why: "direct Prometheus without a host",
    options: { "watcher_datasources.datasources": "prometheus" },
    prints: ["[prometheus_client] host: required for the prometheus datasource"],
  },
  {
    why: "a URL for a host",
    options: { "prometheus_client.host": "http://prom.example:9090" },
    prints: [
      '[prometheus_client] host "http://prom.example:9090": must be a host name or an IP address (no scheme, port or path)',
    ],
  },
  {
    why: "an IPv6 zone",
    options: { "prometheus_client.host": "fe80::1%eth0" },
    prints: [
      '[prometheus_client] host "fe80::1%eth0": IPv6 zone identifiers (%eth0) are not supported; use a routable address',
    ],
  },
  {
    why: "a client certificate without its key",
    options: { ...PROM, "prometheus_client.certfile": "/etc/pki/cert.pem" },
    prints: ["[prometheus_client] certfile, keyfile: set both or neither"],
  },
  {
    why: "a user without a password",
    options: { ...PROM, "prometheus_client.username": "reader" },
    prints: ["[prometheus_client] username, password: set both or neither"],
  },
  {
    why: "a root path with a query",
    options: { ...PROM, "prometheus_client.root_path": "prometheus?x=1" },
    prints: ['[prometheus_client] root_path "prometheus?x=1": must be a URL path without query or fragment'],
  },
  {
    why: "a request header without a colon",
    options: { ...PROM, "prometheus_client.request_headers": "X-Scope-OrgID tenant-a" },
    prints: ["[prometheus_client] request_headers (value hidden): header 1 is not written Name: value"],
  },
  {
    why: "a request header name with a space",
    options: { ...PROM, "prometheus_client.request_headers": "X-Scope-OrgID: t, Bad Name: x" },
    prints: [
      "[prometheus_client] request_headers (value hidden): header 2: the name is not an HTTP token (RFC 9110)",
    ],
  },
  {
    why: "a request header the client sets itself",
    options: { ...PROM, "prometheus_client.request_headers": "Host: other.example" },
    prints: [
      "[prometheus_client] request_headers (value hidden): header 1: host is set by the client itself or concerns one connection only",
    ],
  },
  {
    why: "a hop-by-hop request header",
    options: { ...PROM, "prometheus_client.request_headers": "Connection: close" },
    prints: [
      "[prometheus_client] request_headers (value hidden): header 1: connection is set by the client itself or concerns one connection only",
    ],
  },
  {
    why: "a request header with an empty value",
    options: { ...PROM, "prometheus_client.request_headers": "X-Scope-OrgID:" },
    prints: [
      "[prometheus_client] request_headers (value hidden): header 1: the value is empty or holds a character other than printable ASCII, space and tab",
    ],
  },
  {
    why: "a request header given twice",
    options: { ...PROM, "prometheus_client.request_headers": "X-Scope-OrgID: a, x-scope-orgid: b" },
    prints: ["[prometheus_client] request_headers (value hidden): header 2: the same name is given twice"],
  },
  {
    why: "an Authorization request header beside basic auth",
    options: {
      ...PROM,
      "prometheus_client.username": "reader",
      "prometheus_client.password": "not-a-real-password",
      "prometheus_client.request_headers": "Authorization: Bearer not-a-real-token",
    },
    prints: [
      "[prometheus_client] request_headers (value hidden): header 1: authorization would replace the basic auth of username and password; set one or the other",
    ],
  },
  {
    why: "Aetos with nothing to authenticate with",
    options: { "watcher_datasources.datasources": "aetos" },
    prints: [
      "[watcher_clients_auth] auth_url: required for the aetos datasource",
      "[watcher_clients_auth] auth_type: required for the aetos datasource (password, v3password or v3applicationcredential)",
      "[watcher_clients_auth] user_id or username: required for password authentication",
      "[watcher_clients_auth] password: required for password authentication",
      "[watcher_clients_auth] project_id or project_name: required, a token needs a project scope to carry a catalog",
    ],
  },
  {
    why: "an auth_url without a scheme",
    options: { ...AETOS, "watcher_clients_auth.auth_url": "keystone.example:5000/v3" },
    prints: ['[watcher_clients_auth] auth_url "keystone.example:5000/v3": must be an http or https URL'],
  },
  {
    why: "a user name without its domain",
    options: { ...AETOS, "watcher_clients_auth.user_domain_name": "" },
    prints: [
      "[watcher_clients_auth] user_domain_id or user_domain_name: required with username (names are unique only within a domain)",
    ],
  },
  {
    why: "a project name without its domain",
    options: { ...AETOS, "watcher_clients_auth.project_domain_name": "" },
    prints: ["[watcher_clients_auth] project_domain_id or project_domain_name: required with project_name"],
  },
  {
    why: "a Keystone client certificate without its key",
    options: { ...AETOS, "watcher_clients_auth.certfile": "/etc/pki/cert.pem" },
    prints: ["[watcher_clients_auth] certfile, keyfile: set both or neither"],
  },
  {
    why: "an application credential with nothing",
    options: APP_CREDENTIAL,
    prints: [
      "[watcher_clients_auth] application_credential_secret: required for v3applicationcredential",
      "[watcher_clients_auth] application_credential_id or application_credential_name: required for v3applicationcredential",
    ],
  },
  {
    why: "an application credential by name without its user",
    options: {
      ...APP_CREDENTIAL,
      "watcher_clients_auth.application_credential_name": "metrics",
      "watcher_clients_auth.application_credential_secret": "not-a-real-secret",
    },
    prints: ["[watcher_clients_auth] user_id or username: required with application_credential_name"],
  },
  {
    why: "a series name with a dash",
    options: { ...PROM, "metric.host_power.series": "ipmi-power" },
    prints: [
      '[metric.host_power] series "ipmi-power": must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)',
    ],
  },
  {
    why: "a subject that is neither",
    options: { ...PROM, "metric.vm_load.subject": "vm" },
    prints: ['[metric.vm_load] subject "vm": must be host or instance'],
  },
  {
    why: "a unit with a space",
    options: { ...PROM, "metric.host_power.unit": "k W" },
    prints: [
      '[metric.host_power] unit "k W": must be a unit without spaces, at most 32 characters (e.g. %, By, W, Cel)',
    ],
  },
  {
    why: "a built-in moved to the other subject",
    options: { ...PROM, "metric.host_power.subject": "instance" },
    prints: [
      "[metric.host_power] subject: host_power is a built-in host metric; an instance metric needs a name of its own",
    ],
  },
  {
    why: "series and template on one built-in",
    options: { ...PROM, "metric.host_power.series": "x", "metric.host_power.template": "x{{{matcher}}}" },
    prints: [
      "[metric.host_power] series: set series or template, not both (a template names its own series)",
    ],
  },
  {
    why: "series on a built-in that reads several",
    options: { ...PROM, "metric.host_ram_usage.series": "x" },
    prints: [
      "[metric.host_ram_usage] series: host_ram_usage reads several series (node_memory_MemTotal_bytes, node_memory_MemAvailable_bytes); replace its template instead",
    ],
  },
  {
    why: "a new metric without a template",
    options: { ...PROM, "metric.rack_power.subject": "host", "metric.rack_power.unit": "W" },
    prints: [
      "[metric.rack_power] template: required: rack_power is not a built-in metric, so nothing says how to query it",
    ],
  },
  {
    why: "series on a new metric",
    options: {
      ...PROM,
      "metric.rack_power.series": "x",
      "metric.rack_power.template": "x{{{matcher}}}",
      "metric.rack_power.subject": "host",
      "metric.rack_power.unit": "W",
    },
    prints: [
      "[metric.rack_power] series: only replaces the series of a built-in metric; rack_power is not one, its template names its series",
    ],
  },
  {
    why: "a new metric without subject and unit",
    options: { ...PROM, "metric.rack_power.template": "x{{{matcher}}}" },
    prints: [
      "[metric.rack_power] subject: required for a metric that is not built in: host or instance",
      "[metric.rack_power] unit: required for a metric that is not built in, e.g. %, By, W or Cel",
    ],
  },
  ...(
    [
      ["x{{{matcher}}} * {{scale}}", `unknown placeholder {{scale}}; known: ${KNOWN}`],
      [
        "{{series}}{{{matcher}}}",
        `unknown placeholder {{series}} (a template writes its series names itself); known: ${KNOWN}`,
      ],
      ["x{{{matcher}}} / {{vcpus}}", "{{vcpus}} is only known for instance metrics"],
      ["rack_watts", "must select the resource with {{matcher}}, e.g. my_series{{{matcher}}}"],
      [
        "rack_watts{{{matcher}}} +",
        `does not parse as PromQL at character 28 (near "tts{label='value'} +") once its placeholders are filled in`,
      ],
      ["{{{matcher}}}", "reads no series by name, so its availability cannot be told"],
    ] as const
  ).map(
    ([template, problem]): ConfigCase => ({
      why: `the template ${template}`,
      options: {
        ...PROM,
        "metric.rack_power.template": template,
        "metric.rack_power.subject": "host",
        "metric.rack_power.unit": "W",
      },
      prints: [`[metric.rack_power] template: ${problem}`],
    }),
  ),
];

function configProblems(c: ConfigCase): string[] {
  const files = c.files ?? {};
  const readable: Record<string, string> = { ...READABLE, ...files };
  try {
    loadConfig({
      argv: Object.keys(files).flatMap((path) => ["--config-file", path]),
      env: { ...asEnv(c.options ?? {}), ...c.env },
      readFile: (path) => {
        const text = readable[path];
        if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
        return Buffer.from(text);
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error(`${c.why}: loaded without a problem`);
}

describe("docs/operations.md: configuration errors", () => {
  const printed = CONFIG_CASES.map((c) => ({ c, problems: configProblems(c) }));

  it("lists templates", () => {
    expect(CONFIG_TEMPLATES.length).toBeGreaterThan(40);
  });

  it.each(printed.map((p) => [p.c.why, p] as const))("%s: prints the problem it is there for", (_why, p) => {
    const problems = p.problems.map(withoutSource);
    for (const wanted of p.c.prints) expect(problems).toContain(wanted);
  });

  it("documents every problem the inputs print", () => {
    const undocumented = printed
      .flatMap((p) => p.problems.map(withoutSource))
      .filter((problem) => !CONFIG_TEMPLATES.some((t) => pattern(t).test(problem)));
    expect(undocumented).toEqual([]);
  });

  it("documents nothing the loader does not print", () => {
    const problems = printed.flatMap((p) => p.problems.map(withoutSource));
    const neverPrinted = CONFIG_TEMPLATES.filter(
      (t) => !problems.some((problem) => pattern(t).test(problem)),
    );
    expect(neverPrinted).toEqual([]);
  });

  it("has a template for every message text in the configuration code", () => {
    const reporting = new Set(["push", "fail", "reject", "required", "problem", "text", "SyntaxError"]);
    const sites = [
      "src/config/load.ts",
      "src/config/keystone-section.ts",
      "src/config/request-headers.ts",
      "src/config/options.ts",
      "src/config/metric-sections.ts",
      "src/config/ini.ts",
      "src/metrics/catalogue-build.ts",
    ].flatMap((file) =>
      callSites(
        file,
        // The command line is the CLI's to parse (docs/cli.md); configFiles only reads what it built.
        (name, _text, fn) => reporting.has(name) && fn !== "configFiles",
        (all) => all,
      ),
    );
    expect(sites.length).toBeGreaterThan(40);
    const missing = sites
      .map((s) => ({
        where: s.where,
        pieces: s.pieces.map((p) => p.replace(/ \[from $/, "")).filter((p) => /[a-z]/i.test(p)),
      }))
      .filter((s) => s.pieces.length > 0 && !CONFIG_TEMPLATES.some((t) => inOrder(t, s.pieces)));
    expect(missing).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Start-up failures

const STARTUP_ROWS = rows(part("### Start-up failures (exit code 1)")).map((r) => ({
  template: codeOf(r[0]),
  reason: r[1] === "—" ? undefined : codeOf(r[1]),
}));
/** Rows no case here provokes, and why. */
const NOT_PROVOKED: ReadonlyMap<string, string> = new Map([
  [
    "Keystone did not accept a connection for auth/tokens in time",
    "needs a peer that drops packets, which loopback does not do",
  ],
  [
    "unexpected start-up failure",
    "the configuration catches every cause known (unusable TLS files, a URL that does not parse); the row is there for a bug",
  ],
]);

interface Outcome {
  readonly message: string;
  readonly reason: string | undefined;
}

/** Starts the service in this process; resolves with what main.ts would print after "cannot start: ". */
async function startFailure(
  options: Readonly<Record<string, string>>,
  files: Readonly<Record<string, string>> = {},
): Promise<Outcome> {
  const config = loadConfig({
    argv: [],
    env: asEnv({
      "metrics_access.listen": "127.0.0.1:0",
      "metrics_access.admin_listen": "127.0.0.1:0",
      ...options,
    }),
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return Buffer.from(text);
    },
  });
  try {
    const app = await startApp(config, createLogger("silent"));
    await app.stop();
  } catch (err) {
    return isMetricsAccessError(err)
      ? { message: err.message, reason: err.reason }
      : { message: "unexpected start-up failure", reason: undefined };
  }
  throw new Error("started");
}

/** A Keystone stand-in: the first path segment says how to answer POST …/v3/auth/tokens. */
function keystoneStandIn(): HttpServer {
  const token = (catalog: unknown[], roles: readonly string[] = ["admin"]) => ({
    token: {
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      roles: roles.map((name) => ({ name })),
      catalog,
    },
  });
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const issued = { "x-subject-token": "a-token-for-the-test" };
  const aetos = (endpoint: Record<string, string>) => [
    { type: "metric-storage", name: "aetos", endpoints: [endpoint] },
  ];
  return createHttpServer((req, res) => {
    req.resume();
    req.once("end", () => {
      const behaviour = (req.url ?? "").split("/")[1];
      switch (behaviour) {
        case "refusing":
          return send(res, 401, { error: { code: 401, title: "Unauthorized", message: "no" } });
        case "bad-request":
          return send(res, 400, { error: { code: 400, title: "Bad Request", message: "no" } });
        case "failing":
          return send(res, 503, { error: { code: 503, message: "down" } });
        case "no-token-header":
          return send(res, 201, token([]));
        case "empty-catalog":
          return send(res, 201, token([]), issued);
        case "identity-only":
          return send(
            res,
            201,
            token([
              {
                type: "identity",
                endpoints: [{ interface: "public", region_id: "RegionOne", url: "http://k/v3" }],
              },
            ]),
            issued,
          );
        case "internal-only":
          return send(
            res,
            201,
            token(
              aetos({
                interface: "internal",
                region_id: "RegionOne",
                url: "http://aetos.example/prometheus",
              }),
            ),
            issued,
          );
        case "reader-only":
          return send(
            res,
            201,
            token(
              aetos({ interface: "public", region_id: "RegionOne", url: "http://aetos.example/prometheus" }),
              ["reader", "member"],
            ),
            issued,
          );
        case "ftp-url":
          return send(
            res,
            201,
            token(
              aetos({ interface: "public", region_id: "RegionOne", url: "ftp://aetos.example/prometheus" }),
            ),
            issued,
          );
        default:
          return; // "silent": never answers
      }
    });
  });
}

async function listening(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

async function closed(server: Server): Promise<void> {
  if (server instanceof HttpServer) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe("docs/operations.md: start-up failures", () => {
  const keystone = keystoneStandIn();
  const taken = createTcpServer();
  let keystonePort = 0;
  let takenPort = 0;
  let closedPort = 0;
  const outcomes: { why: string; expected: Outcome; got: Outcome }[] = [];

  beforeAll(async () => {
    [keystonePort, takenPort] = await Promise.all([listening(keystone), listening(taken)]);
    const spare = createTcpServer();
    closedPort = await listening(spare);
    await closed(spare);

    const direct = { "prometheus_client.host": "127.0.0.1", "prometheus_client.port": String(closedPort) };
    const aetos = (behaviour: string, extra: Record<string, string> = {}) => ({
      ...AETOS,
      "watcher_clients_auth.auth_url": `http://127.0.0.1:${keystonePort}/${behaviour}/v3`,
      "watcher_clients_auth.timeout": "0.3",
      ...extra,
    });
    const noEndpoint = (where: string, catalog: string) =>
      `no metric-storage endpoint for interface public in ${where} ([aetos_client] interface, region_name); ${catalog}`;
    // A file that is not a socket where the unix socket should go: refused, and left alone.
    const socketDir = mkdtempSync(join(tmpdir(), "metrics-access-ops-"));
    const notSocket = join(socketDir, "grpc.sock");
    const cases: { why: string; run: () => Promise<Outcome>; expected: Outcome }[] = [
      {
        why: "a file that is not a socket at the unix socket's path",
        run: async () => {
          writeFileSync(notSocket, "not a socket");
          try {
            return await startFailure({ ...direct, "metrics_access.listen": `unix:${notSocket}` });
          } finally {
            rmSync(socketDir, { recursive: true, force: true });
          }
        },
        expected: {
          message: `[metrics_access] listen unix:${notSocket}: cannot listen (EEXIST)`,
          reason: "LISTEN_FAILED",
        },
      },
      {
        why: "the gRPC port taken",
        run: () => startFailure({ ...direct, "metrics_access.listen": `127.0.0.1:${takenPort}` }),
        expected: {
          message: `[metrics_access] listen 127.0.0.1:${takenPort}: cannot listen (EADDRINUSE)`,
          reason: "LISTEN_FAILED",
        },
      },
      {
        why: "the admin port taken",
        run: () => startFailure({ ...direct, "metrics_access.admin_listen": `127.0.0.1:${takenPort}` }),
        expected: {
          message: `[metrics_access] admin_listen 127.0.0.1:${takenPort}: cannot listen (EADDRINUSE)`,
          reason: "LISTEN_FAILED",
        },
      },
      {
        why: "Keystone not listening",
        run: () =>
          startFailure({ ...AETOS, "watcher_clients_auth.auth_url": `http://127.0.0.1:${closedPort}/v3` }),
        expected: {
          message: "Keystone could not be reached for auth/tokens (ECONNREFUSED)",
          reason: "UPSTREAM_UNREACHABLE",
        },
      },
      {
        why: "Keystone silent",
        run: () => startFailure(aetos("silent")),
        expected: {
          message: "Keystone did not answer auth/tokens within 0.3 s",
          reason: "UPSTREAM_UNREACHABLE",
        },
      },
      {
        why: "Keystone refusing",
        run: () => startFailure(aetos("refusing")),
        expected: {
          message:
            'Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for user "watcher" in domain "Default", project "service" in domain "Default"',
          reason: "KEYSTONE_REFUSED",
        },
      },
      {
        why: "a token without the admin or service role, with require_privileged_role",
        run: () => startFailure(aetos("reader-only", { "aetos_client.require_privileged_role": "true" })),
        expected: {
          message:
            'the Keystone token of user "watcher" in domain "Default", project "service" in domain "Default" has neither the admin nor the service role (roles: reader, member) and [aetos_client] require_privileged_role is true: give the user the admin or service role, or set require_privileged_role = false to serve confined to the token\'s project',
          reason: "KEYSTONE_ROLE_INSUFFICIENT",
        },
      },
      {
        why: "Keystone rejecting the request",
        run: () => startFailure(aetos("bad-request")),
        expected: {
          message:
            "Keystone rejected the authentication request (HTTP 400): check [watcher_clients_auth] auth_url and the user, project and domain options",
          reason: "KEYSTONE_BAD_REQUEST",
        },
      },
      {
        why: "Keystone failing",
        run: () => startFailure(aetos("failing")),
        expected: { message: "Keystone answered HTTP 503 to auth/tokens", reason: "KEYSTONE_FAILED" },
      },
      {
        why: "a token without its header",
        run: () => startFailure(aetos("no-token-header")),
        expected: {
          message: "Keystone issued a token this service cannot read",
          reason: "KEYSTONE_MALFORMED",
        },
      },
      {
        why: "an empty catalog",
        run: () => startFailure(aetos("empty-catalog")),
        expected: {
          message: noEndpoint("any region", "the catalog is empty"),
          reason: "CATALOG_NO_ENDPOINT",
        },
      },
      {
        why: "a catalog without Aetos, in a region",
        run: () => startFailure(aetos("identity-only", { "aetos_client.region_name": "RegionTwo" })),
        expected: {
          message: noEndpoint(
            "region RegionTwo",
            "the catalog has no metric-storage service; it holds: identity",
          ),
          reason: "CATALOG_NO_ENDPOINT",
        },
      },
      {
        why: "Aetos on another interface",
        run: () => startFailure(aetos("internal-only")),
        expected: {
          message: noEndpoint(
            "any region",
            "the catalog's metric-storage endpoints are: internal in RegionOne",
          ),
          reason: "CATALOG_NO_ENDPOINT",
        },
      },
      {
        why: "Aetos at an ftp URL",
        run: () => startFailure(aetos("ftp-url")),
        expected: {
          message: "the metric-storage catalog URL is not an http(s) URL",
          reason: "CATALOG_BAD_URL",
        },
      },
    ];
    for (const c of cases) outcomes.push({ why: c.why, expected: c.expected, got: await c.run() });
  }, 30_000);

  afterAll(async () => {
    await Promise.all([closed(keystone), closed(taken)]);
  });

  it("provokes each failure as expected", () => {
    expect(outcomes.map((o) => ({ why: o.why, ...o.got }))).toEqual(
      outcomes.map((o) => ({ why: o.why, ...o.expected })),
    );
  });

  it("documents every failure, with its reason", () => {
    const wrong = outcomes.filter(
      (o) => !STARTUP_ROWS.some((r) => pattern(r.template).test(o.got.message) && r.reason === o.got.reason),
    );
    expect(wrong).toEqual([]);
  });

  it("documents nothing the start does not print", () => {
    const neverPrinted = STARTUP_ROWS.filter(
      (r) => !NOT_PROVOKED.has(r.template) && !outcomes.some((o) => pattern(r.template).test(o.got.message)),
    ).map((r) => r.template);
    expect(neverPrinted).toEqual([]);
    for (const template of NOT_PROVOKED.keys()) {
      expect(STARTUP_ROWS.map((r) => r.template)).toContain(template);
    }
  });

  it("has a row for every reason that can end a start, and only real reasons", () => {
    const documented = new Set(STARTUP_ROWS.flatMap((r) => (r.reason === undefined ? [] : [r.reason])));
    const ending = [
      ...STARTUP_ONLY_REASONS,
      ...ERROR_REASONS.filter((r) => r.startsWith("KEYSTONE_")),
      "UPSTREAM_UNREACHABLE",
    ];
    expect(ending.filter((r) => !documented.has(r))).toEqual([]);
    const known: readonly string[] = ERROR_REASONS;
    expect([...documented].filter((r) => !known.includes(r))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. The process

describe("docs/operations.md: what the process prints", () => {
  it("exits 2 and prints the doc's example for its configuration", async () => {
    const run = await runMain(
      { "typo.conf": "[metrics_access]\nlisten_adress = 0.0.0.0:1\n" },
      {
        env: {
          METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: "prom.example",
          METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: "abc",
        },
      },
    );
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.startsWith("metrics-access: invalid configuration:\n")).toBe(true);
    expect(DOC).toContain(`\`\`\`\n${run.stderr}\`\`\``);
  });

  it("exits 1 with the stderr line and the fatal log line the doc shows", async () => {
    // Takes the port; a connection (the readiness probe's, sent to it too) is dropped at once.
    const taken = createTcpServer((socket) => socket.destroy());
    const port = await listening(taken);
    try {
      const run = await runMain(
        {},
        {
          env: {
            METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: "127.0.0.1",
            METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: String(port),
            METRICS_ACCESS__METRICS_ACCESS__LISTEN: `127.0.0.1:${port}`,
            METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN: "127.0.0.1:0",
          },
        },
      );
      const message = `[metrics_access] listen 127.0.0.1:${port}: cannot listen (EADDRINUSE)`;
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toBe(`metrics-access: cannot start: ${message}\n`);
      expect(DOC).toContain("```\nmetrics-access: cannot start: <message>\n");
      const fatal = run.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map(
          (l) =>
            JSON.parse(l) as { level?: string; msg?: string; service?: string; err?: { reason?: string } },
        )
        .find((l) => l.level === "fatal");
      expect(fatal).toMatchObject({
        level: "fatal",
        service: "metrics-access",
        msg: `cannot start: ${message}`,
        err: { type: "MetricsAccessError", reason: "LISTEN_FAILED" },
      });
    } finally {
      await closed(taken);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4. The log

describe("docs/operations.md: the log", () => {
  const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
  const logRows = rows(part("## The log"))
    .filter((r) => LEVELS.has(r[1] ?? ""))
    .map((r) => ({ template: codeOf(r[0]), level: r[1] ?? "" }));

  const sourceFiles = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return path === join("src", "gen") ? [] : sourceFiles(path);
      return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
    });
  const written = sourceFiles("src").flatMap((file) =>
    callSites(
      file,
      (name, text) => LEVELS.has(name) && /(^|\.)logger\.\w+$/.test(text),
      (all) => all.slice(-1),
    ),
  );
  // A message as it reads with its interpolated parts filled in.
  const sample = (pieces: readonly string[]) => pieces.join("value");

  it("finds the log messages in the code", () => {
    expect(written.length).toBeGreaterThan(10);
  });

  it("documents every message the code writes, at its level", () => {
    const undocumented = written
      .filter((w) => !logRows.some((r) => r.level === w.callee && pattern(r.template).test(sample(w.pieces))))
      .map((w) => `${w.where}: ${w.callee} ${sample(w.pieces)}`);
    expect(undocumented).toEqual([]);
  });

  it("documents no message the code does not write", () => {
    const neverWritten = logRows.filter(
      (r) => !written.some((w) => r.level === w.callee && pattern(r.template).test(sample(w.pieces))),
    );
    expect(neverWritten).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Self-metrics

describe("docs/operations.md: self-metrics", () => {
  const metricRows = rows(part("## Self-metrics"))
    .filter((r) => r.length === 4)
    .map((r) => ({
      name: codeOf(r[0]),
      type: r[1] ?? "",
      labels: r[2] === "—" ? [] : (r[2] ?? "").split(", ").map(codeOf),
    }));

  it("lists exactly the families /metrics exposes, with their types and labels", async () => {
    const metrics = new SelfMetrics();
    // Every label the service's own metrics have, used once.
    metrics.start("metricsaccess.v1.MetricsService/GetHostMetric", "unary")("OK");
    metrics.upstream("prometheus", "success", 0.01);
    metrics.tokenIssued("authentication", true);
    metrics.tokenIssued("renewal", false);
    metrics.sharedQueriesFrom(() => ({ cacheHits: 1, cacheMisses: 1, coalesced: 1 }));
    metrics.upstreamLimitFrom(() => ({ inFlight: 1, waiting: 1, refused: 1 }));
    const { body } = await metrics.scrape();

    const types = new Map([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]));
    const labels = new Map<string, Set<string>>();
    for (const m of body.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /gm)) {
      const sample = m[1] ?? "";
      const family = types.has(sample) ? sample : sample.replace(/_(bucket|count|sum)$/, "");
      const set = labels.get(family) ?? new Set<string>();
      for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g))
        if (l[1] !== "le") set.add(l[1] ?? "");
      labels.set(family, set);
    }

    expect(metricRows.map((r) => r.name).sort()).toEqual([...types.keys()].sort());
    for (const row of metricRows) {
      expect(row.type, row.name).toBe(types.get(row.name));
      const seen = [...(labels.get(row.name) ?? [])].sort();
      if (/^(process|nodejs)_/.test(row.name)) {
        // prom-client's own: a label shows only once something carries it.
        expect(
          seen.filter((l) => !row.labels.includes(l)),
          row.name,
        ).toEqual([]);
      } else {
        expect(seen, row.name).toEqual([...row.labels].sort());
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Alerts

describe("docs/operations.md: alerts", () => {
  const rulesText = readFileSync(join(ROOT, "deploy", "prometheus", "alerts.yml"), "utf8");
  const alerts = [...rulesText.matchAll(/^\s*- alert: (\w+)\s*$/gm)].map((m) => m[1] ?? "").sort();

  it("has a table row and a runbook entry for every alert of alerts.yml, and no other", () => {
    expect(alerts.length).toBeGreaterThan(0);
    const tabled = rows(part("## Alerts"))
      .map((r) => codeOf(r[0]))
      .filter((name) => /^MetricsAccess/.test(name));
    expect([...tabled].sort()).toEqual(alerts);
    const entries = [...part("### Runbook").matchAll(/^#### (\w+)$/gm)].map((m) => m[1] ?? "");
    expect([...entries].sort()).toEqual(alerts);
  });

  it("points each alert's runbook annotation at its entry", () => {
    const links = [...rulesText.matchAll(/runbook: "docs\/operations\.md#(\w+)"/g)].map((m) => m[1] ?? "");
    expect([...links].sort()).toEqual(alerts.map((a) => a.toLowerCase()).sort());
  });
});
