import type { MetricDefinition } from "../metrics/catalogue.js";

/** The validated, immutable configuration every other module receives. Nothing else reads files or env. */
export interface Config {
  readonly server: ServerConfig;
  readonly datasource: PrometheusSourceConfig | AetosSourceConfig;
  /** The metric catalogue: the built-ins merged with the `[metric.<name>]` sections. */
  readonly metrics: readonly MetricDefinition[];
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** How callers of MetricsService are authenticated (`[metrics_access] caller_auth`). */
export type CallerAuth =
  | { readonly kind: "none" }
  | {
      readonly kind: "mtls";
      // The CAs that sign client certificates are the TLS server's business: ServerTls.clientCa.
      /** "CN=…", "DNS:…" or "URI:…"; empty admits every certificate the CAs signed. */
      readonly allowedSubjects: readonly string[];
    }
  | {
      readonly kind: "keystone";
      /** The service's own Keystone user, which validates callers' tokens. */
      readonly keystone: KeystoneConfig;
      readonly roles: readonly string[];
      readonly cacheTimeMs: number;
      readonly cacheSize: number;
    };

/**
 * Where the gRPC port listens (`[metrics_access] listen`): a TCP address (port 0: any free port), or
 * a unix socket for a client on the same host or in the same pod (`unix:/absolute/path`).
 */
export type ListenAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

/**
 * The server's TLS material as read at start-up, and the files it came from: the transport looks
 * at them again every `tlsReloadIntervalMs` (certificate rotation).
 */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certFile: string;
  readonly keyFile: string;
  /**
   * With caller_auth = mtls: the CAs that sign client certificates (`tls_client_cafile`; the same
   * bytes as CallerAuth's `ca`), which the server asks every client for and checks against.
   */
  readonly clientCa: { readonly pem: Buffer; readonly file: string } | undefined;
}

export interface ServerConfig {
  readonly listen: ListenAddress;
  readonly callerAuth: CallerAuth;
  /** The gRPC port listens beyond loopback without caller authentication (explicitly allowed). */
  readonly unauthenticatedNetwork: boolean;
  readonly tls: ServerTls | undefined;
  /** 0: the TLS files are read at start-up only. */
  readonly tlsReloadIntervalMs: number;
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  readonly targetRefreshIntervalMs: number;
  readonly seriesRefreshIntervalMs: number;
  /** Most upstream requests in flight at once. */
  readonly maxConcurrentUpstreamQueries: number;
  readonly upstreamQueueTimeoutMs: number;
  /** 0: no result cache. */
  readonly queryCacheTtlMs: number;
  /** Where the admin HTTP server (healthz, readyz, metrics) listens; undefined: off. */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  readonly readinessIntervalMs: number;
}

/** PEM material read at start-up; absent members mean the system default (system CAs, no client cert). */
export interface TlsMaterial {
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly rejectUnauthorized: boolean;
}

export interface MetricLabels {
  readonly fqdn: string;
  readonly instanceUuid: string;
}

export interface PrometheusSourceConfig {
  readonly kind: "prometheus";
  /** scheme://host:port with IPv6 hosts bracketed; no path. */
  readonly origin: string;
  /** "" or "/prefix" without a trailing slash. */
  readonly rootPath: string;
  readonly tls: TlsMaterial | undefined;
  readonly basicAuth: { readonly username: string; readonly password: string } | undefined;
  /**
   * `request_headers`: sent on every request to Prometheus, names in lower case (a tenant header
   * such as x-scope-orgid, or a bearer token). Secret, like the password. Absent: none.
   */
  readonly requestHeaders?: Readonly<Record<string, string>> | undefined;
  readonly timeoutMs: number;
  readonly labels: MetricLabels;
}

export type CatalogInterface = "public" | "internal" | "admin";

export type KeystoneCredentials =
  | {
      readonly method: "password";
      readonly user: UserRef;
      readonly password: string;
      readonly project: { readonly id: string } | { readonly name: string; readonly domain: DomainRef };
    }
  | {
      readonly method: "application_credential";
      readonly secret: string;
      readonly credential: { readonly id: string } | { readonly name: string; readonly user: UserRef };
    };

export type DomainRef = { readonly id: string } | { readonly name: string };
export type UserRef = { readonly id: string } | { readonly name: string; readonly domain: DomainRef };

export interface KeystoneConfig {
  /** The auth_url as configured, without a trailing slash. */
  readonly authUrl: string;
  readonly credentials: KeystoneCredentials;
  readonly tls: TlsMaterial;
  readonly timeoutMs: number;
}

export interface AetosSourceConfig {
  readonly kind: "aetos";
  readonly keystone: KeystoneConfig;
  readonly interface: CatalogInterface;
  readonly regionName: string | undefined;
  readonly labels: MetricLabels;
  /** Longest GET request line to Aetos, in bytes. */
  readonly maxUrlLength: number;
  /** Query Aetos with each caller's validated token instead of the service's own. */
  readonly forwardCallerToken: boolean;
  /**
   * Refuse to start with a token that has neither the admin nor the service role (Aetos would
   * confine it to its project); when false, such a token only draws a warning.
   */
  readonly requirePrivilegedRole: boolean;
}
