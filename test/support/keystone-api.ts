/**
 * Keystone's v3 REST API as the tests speak it, with plain fetch: project-scoped password tokens,
 * application-credential tokens, revocation, and the request helper that provisioning
 * (keystone-provision.ts) builds on. Secrets never reach an error message. No test framework here.
 */

// ---------------------------------------------------------------------------------------------
// Credentials, and the tokens Keystone issues for them

export interface PasswordCredentials {
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  /** Default `default`. */
  readonly userDomainId?: string;
  /** Default `default`. */
  readonly projectDomainId?: string;
}

export interface CatalogEndpoint {
  readonly id: string;
  readonly interface: string;
  readonly regionId: string;
  readonly url: string;
}

export interface CatalogService {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

/** What `POST /v3/auth/tokens` answered. */
export interface IssuedToken {
  /** The `X-Subject-Token` header. */
  readonly token: string;
  readonly expiresAt: Date;
  readonly methods: readonly string[];
  readonly userId: string;
  readonly projectId: string | undefined;
  readonly roles: readonly string[];
  readonly catalog: readonly CatalogService[];
}

// ---------------------------------------------------------------------------------------------
// Requests and small JSON helpers (no `any`)

export type Json = Record<string, unknown>;

export function asObject(value: unknown, what: string): Json {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Json;
  throw new Error(`Keystone answer: ${what} is not an object`);
}

export function asString(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  throw new Error(`Keystone answer: ${what} is not a string`);
}

export function asArray(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new Error(`Keystone answer: ${what} is not an array`);
}

/** Replaces every secret in `text` (passwords, tokens) before it goes into an error message. */
function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("***");
  return out.length > 600 ? `${out.slice(0, 600)}…` : out;
}

interface KsResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface KsRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  /** Relative to …/v3, e.g. `/projects`. */
  path: string;
  token?: string;
  subjectToken?: string;
  body?: unknown;
  /** Accepted statuses; anything else throws. */
  expect: readonly number[];
  /** Strings to keep out of error messages. */
  secrets?: readonly string[];
}

export async function ksRequest(baseUrl: string, req: KsRequest): Promise<KsResponse> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (req.body !== undefined) headers["Content-Type"] = "application/json";
  if (req.token !== undefined) headers["X-Auth-Token"] = req.token;
  if (req.subjectToken !== undefined) headers["X-Subject-Token"] = req.subjectToken;
  const init: RequestInit = { method: req.method, headers, signal: AbortSignal.timeout(30_000) };
  if (req.body !== undefined) init.body = JSON.stringify(req.body);
  const res = await fetch(`${baseUrl}${req.path}`, init);
  const text = await res.text();
  const secrets = [
    ...(req.secrets ?? []),
    ...(req.token ? [req.token] : []),
    ...(req.subjectToken ? [req.subjectToken] : []),
  ];
  if (!req.expect.includes(res.status)) {
    throw new Error(
      `Keystone ${req.method} ${req.path} answered ${res.status} (expected ${req.expect.join("/")}): ${redact(text, secrets)}`,
    );
  }
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, headers: res.headers, body };
}

// ---------------------------------------------------------------------------------------------
// Tokens

function parseToken(token: string, body: unknown): IssuedToken {
  const t = asObject(asObject(body, "token response").token, "token");
  const project = t.project === undefined ? undefined : asObject(t.project, "token.project");
  const catalog = (t.catalog === undefined ? [] : asArray(t.catalog, "token.catalog")).map((s, i) => {
    const svc = asObject(s, `catalog[${i}]`);
    return {
      id: asString(svc.id, "service id"),
      type: asString(svc.type, "service type"),
      name: typeof svc.name === "string" ? svc.name : "",
      endpoints: asArray(svc.endpoints, "service endpoints").map((e, j) => {
        const ep = asObject(e, `catalog[${i}].endpoints[${j}]`);
        return {
          id: asString(ep.id, "endpoint id"),
          interface: asString(ep.interface, "endpoint interface"),
          regionId: asString(ep.region_id, "endpoint region_id"),
          url: asString(ep.url, "endpoint url"),
        };
      }),
    };
  });
  return {
    token,
    expiresAt: new Date(asString(t.expires_at, "token.expires_at")),
    methods: asArray(t.methods, "token.methods").map((m) => asString(m, "method")),
    userId: asString(asObject(t.user, "token.user").id, "token.user.id"),
    projectId: project ? asString(project.id, "token.project.id") : undefined,
    roles: (t.roles === undefined ? [] : asArray(t.roles, "token.roles")).map((r) =>
      asString(asObject(r, "role").name, "role name"),
    ),
    catalog,
  };
}

async function issueToken(
  keystoneUrl: string,
  auth: unknown,
  secrets: readonly string[],
): Promise<IssuedToken> {
  const res = await ksRequest(keystoneUrl, {
    method: "POST",
    path: "/auth/tokens",
    body: auth,
    expect: [201],
    secrets,
  });
  const token = res.headers.get("x-subject-token");
  if (!token) throw new Error("Keystone POST /auth/tokens: no X-Subject-Token header");
  return parseToken(token, res.body);
}

/**
 * Password authentication, project-scoped by names (what keystoneauth's v3 password plugin sends):
 * `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":…,"domain":{"id":…},
 * "password":…}}},"scope":{"project":{"name":…,"domain":{"id":…}}}}}`.
 */
export async function passwordToken(keystoneUrl: string, creds: PasswordCredentials): Promise<IssuedToken> {
  const body = {
    auth: {
      identity: {
        methods: ["password"],
        password: {
          user: {
            name: creds.username,
            domain: { id: creds.userDomainId ?? "default" },
            password: creds.password,
          },
        },
      },
      scope: { project: { name: creds.projectName, domain: { id: creds.projectDomainId ?? "default" } } },
    },
  };
  return await issueToken(keystoneUrl, body, [creds.password]);
}

/**
 * Application-credential authentication, no scope (Keystone rejects a scope here):
 * `{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":…,"secret":…}}}}`.
 */
export async function applicationCredentialToken(
  keystoneUrl: string,
  cred: { readonly id: string; readonly secret: string },
): Promise<IssuedToken> {
  const body = {
    auth: {
      identity: {
        methods: ["application_credential"],
        application_credential: { id: cred.id, secret: cred.secret },
      },
    },
  };
  return await issueToken(keystoneUrl, body, [cred.secret]);
}

/** `DELETE /v3/auth/tokens` with `X-Subject-Token`: revokes `token` (204). */
export async function revokeToken(keystoneUrl: string, authToken: string, token: string): Promise<void> {
  await ksRequest(keystoneUrl, {
    method: "DELETE",
    path: "/auth/tokens",
    token: authToken,
    subjectToken: token,
    expect: [204],
  });
}
