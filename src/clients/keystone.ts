import type { DomainRef, KeystoneConfig, KeystoneCredentials, UserRef } from "../config/types.js";
import { MetricsAccessError } from "../errors.js";
import type { CatalogService } from "./catalog.js";
import { HttpOrigin } from "./http-origin.js";
import { transportError } from "./upstream-errors.js";
import { measured, type UpstreamObserver } from "./upstream-observer.js";

/** A Keystone v3 token with what the service reads of it. */
export interface KeystoneToken {
  /** The X-Subject-Token value. Never logged. */
  readonly value: string;
  /** Unix milliseconds. */
  readonly expiresAt: number;
  readonly catalog: readonly CatalogService[];
  readonly roles: readonly string[];
}

/**
 * POST /v3/auth/tokens with a password (project-scoped) or an application credential (never
 * scoped: Keystone refuses a scope with one). Errors name [watcher_clients_auth], never a secret.
 */
export class KeystoneClient {
  readonly #config: KeystoneConfig;
  readonly #http: HttpOrigin;
  readonly #tokensPath: string;
  readonly #observe: UpstreamObserver | undefined;

  /** `observe` is told of every request's outcome and duration (the self-metrics). */
  constructor(config: KeystoneConfig, observe?: UpstreamObserver) {
    this.#config = config;
    this.#observe = observe;
    const url = new URL(config.authUrl);
    const base = url.pathname.replace(/\/+$/, "");
    // keystoneauth's v3 plugins: an auth_url ending in v3 is the v3 root; otherwise append /v3.
    this.#tokensPath = /\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`;
    this.#http = new HttpOrigin({
      origin: url.origin,
      tls: config.tls,
      connectTimeoutMs: Math.min(config.timeoutMs, 10_000),
      timeoutMs: config.timeoutMs,
      maxSockets: 4,
      // A token with a large catalog is tens of kilobytes; anything near this is not Keystone.
      maxResponseBytes: 16 * 1024 * 1024,
      idleTimeoutMs: 4_000,
    });
  }

  async issueToken(): Promise<KeystoneToken> {
    let status: number;
    let subject: string | string[] | undefined;
    let text: string;
    try {
      const answer = await measured(this.#observe, "keystone", undefined, () =>
        this.#http.request({
          method: "POST",
          path: this.#tokensPath,
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "user-agent": "metrics-access",
          },
          body: JSON.stringify(authRequest(this.#config.credentials)),
        }),
      );
      ({ status, text } = answer);
      subject = answer.headers["x-subject-token"];
    } catch (err) {
      throw transportError("Keystone", "auth/tokens", err, this.#config.timeoutMs);
    }
    if (status !== 201 && status !== 200) throw refused(status, text);
    const token = parseToken(typeof subject === "string" ? subject : undefined, text);
    if (!token) {
      throw new MetricsAccessError("unavailable", "Keystone issued a token this service cannot read", {
        reason: "KEYSTONE_MALFORMED",
      });
    }
    return token;
  }

  /**
   * Closes the connections at once. It runs after the server has drained, when the only requests
   * left are shared loads nobody waits for, which a graceful close would wait out.
   */
  async close(): Promise<void> {
    this.#http.close();
  }
}

function authRequest(credentials: KeystoneCredentials): unknown {
  if (credentials.method === "application_credential") {
    const c = credentials.credential;
    const credential = "id" in c ? { id: c.id } : { name: c.name, user: user(c.user) };
    return {
      auth: {
        identity: {
          methods: ["application_credential"],
          application_credential: { ...credential, secret: credentials.secret },
        },
      },
    };
  }
  const p = credentials.project;
  return {
    auth: {
      identity: {
        methods: ["password"],
        password: { user: { ...user(credentials.user), password: credentials.password } },
      },
      scope: { project: "id" in p ? { id: p.id } : { name: p.name, domain: domain(p.domain) } },
    },
  };
}

function user(ref: UserRef): Record<string, unknown> {
  return "id" in ref ? { id: ref.id } : { name: ref.name, domain: domain(ref.domain) };
}

function domain(ref: DomainRef): Record<string, string> {
  return "id" in ref ? { id: ref.id } : { name: ref.name };
}

function parseToken(value: string | undefined, text: string): KeystoneToken | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const token = (body as { token?: Record<string, unknown> } | undefined)?.token;
  const expiresAt = Date.parse(String(token?.expires_at ?? ""));
  if (!value || !token || Number.isNaN(expiresAt)) return undefined;
  const roles = Array.isArray(token.roles) ? token.roles.flatMap((r: unknown) => nameOf(r)) : [];
  const catalog = Array.isArray(token.catalog)
    ? token.catalog.flatMap((entry: unknown) => catalogService(entry))
    : [];
  return { value, expiresAt, catalog, roles };
}

function nameOf(role: unknown): string[] {
  const name = (role as { name?: unknown } | null)?.name;
  return typeof name === "string" ? [name] : [];
}

/** A catalog entry as selection reads it; entries of another shape are left out, not trusted. */
function catalogService(entry: unknown): CatalogService[] {
  const service = entry as { type?: unknown; name?: unknown; endpoints?: unknown } | null;
  if (typeof service?.type !== "string" || !Array.isArray(service.endpoints)) return [];
  const endpoints = service.endpoints.flatMap((e: unknown) => {
    const endpoint = e as {
      interface?: unknown;
      region_id?: unknown;
      region?: unknown;
      url?: unknown;
    } | null;
    if (typeof endpoint?.interface !== "string" || typeof endpoint.url !== "string") return [];
    return [
      {
        interface: endpoint.interface,
        region_id: typeof endpoint.region_id === "string" ? endpoint.region_id : undefined,
        region: typeof endpoint.region === "string" ? endpoint.region : undefined,
        url: endpoint.url,
      },
    ];
  });
  return [
    { type: service.type, name: typeof service.name === "string" ? service.name : undefined, endpoints },
  ];
}

/**
 * Whose credentials these are, in the terms of [watcher_clients_auth]: the user and project (or the
 * application credential and its user), by name with their domain, or by id. Never the password or
 * the secret.
 */
export function describeCredentials(credentials: KeystoneCredentials): string {
  if (credentials.method === "application_credential") {
    const c = credentials.credential;
    return "id" in c
      ? `application credential id ${JSON.stringify(c.id)}`
      : `application credential ${JSON.stringify(c.name)} of ${describeUser(c.user)}`;
  }
  const p = credentials.project;
  const project =
    "id" in p
      ? `project id ${JSON.stringify(p.id)}`
      : `project ${JSON.stringify(p.name)} in ${describeDomain(p.domain)}`;
  return `${describeUser(credentials.user)}, ${project}`;
}

function describeUser(ref: UserRef): string {
  return "id" in ref
    ? `user id ${JSON.stringify(ref.id)}`
    : `user ${JSON.stringify(ref.name)} in ${describeDomain(ref.domain)}`;
}

function describeDomain(ref: DomainRef): string {
  return "id" in ref ? `domain id ${JSON.stringify(ref.id)}` : `domain ${JSON.stringify(ref.name)}`;
}

/**
 * The refusal says which credentials were refused but not whose: it may reach a caller when a
 * renewal is refused while the service runs, and the service's user is not the caller's business.
 * At start-up the operator gets the names too (AetosDatasource.connect adds them).
 */
function refused(status: number, text: string): MetricsAccessError {
  const cause = new Error(`Keystone auth/tokens: HTTP ${status}: ${text.slice(0, 300)}`);
  if (status === 401 || status === 403) {
    return new MetricsAccessError(
      "unavailable",
      `Keystone refused the credentials in [watcher_clients_auth] (HTTP ${status})`,
      { reason: "KEYSTONE_REFUSED", cause },
    );
  }
  if (status === 400) {
    return new MetricsAccessError(
      "failed_precondition",
      `Keystone rejected the authentication request (HTTP ${status}): check [watcher_clients_auth] auth_url and the user, project and domain options`,
      { reason: "KEYSTONE_BAD_REQUEST", cause },
    );
  }
  return new MetricsAccessError("unavailable", `Keystone answered HTTP ${status} to auth/tokens`, {
    reason: "KEYSTONE_FAILED",
    cause,
  });
}
