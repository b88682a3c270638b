import type { DomainRef, KeystoneConfig, KeystoneCredentials, UserRef } from "../config/types.js";
import { isMetricsAccessError, MetricsAccessError } from "../errors.js";
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
  /** The project the token is scoped to; undefined for an application credential's unscoped one. */
  readonly projectId: string | undefined;
}

/** What Keystone says of a caller's token (GET /v3/auth/tokens). */
export interface ValidatedToken {
  /** Unix milliseconds. */
  readonly expiresAt: number;
  readonly roles: readonly string[];
  readonly userId: string;
  readonly userName: string | undefined;
  /** Undefined for a token not scoped to a project (unscoped, domain or system scope). */
  readonly projectId: string | undefined;
}

/**
 * Keystone's word on a caller's token: valid (with what it carries), unknown to it (404: expired,
 * revoked or made up), or not judged because Keystone refused the service's own token (401).
 */
export type TokenValidation =
  | { readonly status: "valid"; readonly token: ValidatedToken }
  | { readonly status: "unknown" }
  | { readonly status: "own_token_refused" };

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
   * GET /v3/auth/tokens, as keystonemiddleware validates: `subject` is a caller's token, asked
   * about with the service's own. Undefined when Keystone does not know it (404: expired, revoked
   * or made up). A 401 means Keystone refused the service's own token (KEYSTONE_REFUSED, the
   * caller's token is not judged); a 403, that the service's user may not validate tokens.
   */
  async validateToken(serviceToken: string, subject: string, signal?: AbortSignal): Promise<TokenValidation> {
    let answer: { status: number; text: string };
    try {
      answer = await measured(this.#observe, "keystone", undefined, () =>
        this.#http.request({
          method: "GET",
          // The caller's catalog is not needed: nocatalog keeps the answer small.
          path: `${this.#tokensPath}?nocatalog`,
          headers: {
            accept: "application/json",
            "user-agent": "metrics-access",
            "x-auth-token": serviceToken,
            "x-subject-token": subject,
          },
          signal,
        }),
      );
    } catch (err) {
      throw transportError("Keystone", "auth/tokens", err, this.#config.timeoutMs);
    }
    const { status, text } = answer;
    if (status === 404) return { status: "unknown" };
    if (status === 401) return { status: "own_token_refused" };
    if (status === 403) {
      throw new MetricsAccessError(
        "unavailable",
        "Keystone does not let the user of [watcher_clients_auth] validate callers' tokens (HTTP 403): give it the admin or service role",
        {
          reason: "KEYSTONE_REFUSED",
          cause: new Error(`Keystone token validation: HTTP 403: ${text.slice(0, 300)}`),
        },
      );
    }
    if (status !== 200) throw refused(status, text);
    const validated = parseValidation(text);
    if (!validated) {
      throw new MetricsAccessError(
        "unavailable",
        "Keystone validated a token in a form this service cannot read",
        {
          reason: "KEYSTONE_MALFORMED",
        },
      );
    }
    return { status: "valid", token: validated };
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

/** What both an issued and a validated token carry: the body's token, its expiry, roles and project. */
function tokenFields(text: string) {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const token = (body as { token?: Record<string, unknown> } | undefined)?.token;
  const expiresAt = Date.parse(String(token?.expires_at ?? ""));
  if (!token || Number.isNaN(expiresAt)) return undefined;
  const project = token.project as { id?: unknown } | undefined;
  return {
    token,
    expiresAt,
    roles: Array.isArray(token.roles) ? token.roles.flatMap((r: unknown) => nameOf(r)) : [],
    projectId: typeof project?.id === "string" ? project.id : undefined,
  };
}

function parseToken(value: string | undefined, text: string): KeystoneToken | undefined {
  const fields = tokenFields(text);
  if (!value || !fields) return undefined;
  const { token, expiresAt, roles, projectId } = fields;
  const catalog = Array.isArray(token.catalog)
    ? token.catalog.flatMap((entry: unknown) => catalogService(entry))
    : [];
  return { value, expiresAt, catalog, roles, projectId };
}

function parseValidation(text: string): ValidatedToken | undefined {
  const fields = tokenFields(text);
  const user = fields?.token.user as { id?: unknown; name?: unknown } | undefined;
  if (!fields || typeof user?.id !== "string") return undefined;
  return {
    expiresAt: fields.expiresAt,
    roles: fields.roles,
    userId: user.id,
    userName: typeof user.name === "string" ? user.name : undefined,
    projectId: fields.projectId,
  };
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
 * At start-up, a refusal of the service's own credentials names them (user, domain, project, or
 * the application credential; never the secret), so that the operator sees which were sent.
 */
export function namingCredentials(err: unknown, credentials: KeystoneCredentials): unknown {
  if (!isMetricsAccessError(err) || err.reason !== "KEYSTONE_REFUSED") return err;
  return new MetricsAccessError(err.code, `${err.message} for ${describeCredentials(credentials)}`, {
    reason: err.reason,
    cause: err,
  });
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
