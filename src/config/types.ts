import type { MetricDefinition } from "../metrics/catalogue.js";

/** The validated, immutable configuration every other module receives. Nothing else reads files or env. */
export interface Config {
  readonly server: ServerConfig;
  readonly datasource: PrometheusSourceConfig | AetosSourceConfig;
  /** The metric catalogue: the built-ins merged with the `[metric.<name>]` sections. */
  readonly metrics: readonly MetricDefinition[];
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** How callers of the gRPC port are authenticated (none yet: reachable only on loopback by default). */
export type CallerAuth = "none";

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly callerAuth: CallerAuth;
  /** The gRPC port listens beyond loopback without caller authentication (explicitly allowed). */
  readonly unauthenticatedNetwork: boolean;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  readonly targetRefreshIntervalMs: number;
  readonly seriesRefreshIntervalMs: number;
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
  /**
   * Refuse to start with a token that has neither the admin nor the service role (Aetos would
   * confine it to its project); when false, such a token only draws a warning.
   */
  readonly requirePrivilegedRole: boolean;
}
