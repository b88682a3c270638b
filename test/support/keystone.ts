/**
 * A real Keystone (Debian bookworm's `keystone` package, OpenStack Zed) for the integration tests:
 * a fresh sqlite database under a work directory, fernet tokens, served by uWSGI on 127.0.0.1, and
 * provisioned through Keystone's own REST API.
 *
 * Catalog without `metric-storage`: the catalog is global, so {@link provisionKeystone} creates a
 * project (`no-metric-storage`) whose catalog is restricted, with Keystone's endpoint filter
 * (OS-EP-FILTER), to the identity endpoints, and a user (`watcher-nocat`, role `service`) in it.
 * A token or application credential for that user shows a catalog without `metric-storage`, while
 * every other project keeps the full catalog, so tests can run side by side. For a test that needs
 * the metric-storage service to vanish for everybody, {@link Provisioning.setMetricStorageEnabled}
 * disables (and re-enables) the service, keeping its ids.
 */
import { spawn } from "node:child_process";
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, httpOk, type RunningProcess, spawnLogged, waitUntil } from "./processes.js";

// ---------------------------------------------------------------------------------------------
// Public types

export interface KeystoneOptions {
  /** A fresh (or empty) directory; the database, keys, config and logs go there. */
  workDir: string;
  /** `[token] expiration`. Keystone's default is 3600 s. See the note on {@link startKeystone}. */
  tokenExpirationSec?: number;
  /** uWSGI worker processes (default 2, one thread each). */
  processes?: number;
}

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

export interface Keystone {
  /** `http://127.0.0.1:<port>/v3` (also the identity endpoint in the catalog). */
  readonly url: string;
  /** `http://127.0.0.1:<port>` */
  readonly rootUrl: string;
  readonly port: number;
  readonly workDir: string;
  readonly tokenExpirationSec: number;
  /** The bootstrap admin (role admin in project admin). */
  readonly admin: Required<PasswordCredentials>;
  /** The uWSGI log (one file across restarts). */
  readonly logFile: string;
  /** Milliseconds spent in each start-up phase (for reports). */
  readonly startupTimings: Readonly<Record<string, number>>;
  /** True while the HTTP server process runs. */
  serving(): boolean;
  /** A project-scoped admin token, reused while it has more than 60 s to live. */
  adminToken(): Promise<string>;
  /** Stops only the HTTP server; the database and keys stay. */
  stopServer(): Promise<void>;
  /** Starts the HTTP server again on the same port with the same database; waits for GET /v3. */
  startServer(): Promise<void>;
  /** Stops the server for good (the work directory is left for inspection). */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Small JSON helpers (no `any`)

type Json = Record<string, unknown>;

function asObject(value: unknown, what: string): Json {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Json;
  throw new Error(`Keystone answer: ${what} is not an object`);
}

function asString(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  throw new Error(`Keystone answer: ${what} is not a string`);
}

function asArray(value: unknown, what: string): unknown[] {
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

interface KsRequest {
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

async function ksRequest(baseUrl: string, req: KsRequest): Promise<KsResponse> {
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

// ---------------------------------------------------------------------------------------------
// Start-up

const ADMIN_PASSWORD = "adminpass";

/** Runs a one-shot command with stdout/stderr appended to `logFile`; throws on a non-zero exit. */
async function runCommand(
  command: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const log = await open(logFile, "a");
  try {
    await log.write(`\n$ ${command} ${args.join(" ")}\n`);
    const code = await new Promise<number | string>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ["ignore", log.fd, log.fd], env });
      child.once("error", reject);
      child.once("close", (c, signal) => resolve(c ?? signal ?? "unknown"));
    });
    if (code !== 0) throw new Error(`${command} ${args[0] ?? ""} failed (${code}); see ${logFile}`);
  } finally {
    await log.close();
  }
}

/**
 * Creates and serves a fresh Keystone under `workDir`.
 *
 * Steps: keystone.conf (sqlite, fernet, `[token] expiration`, per-request cache only) → `db_sync`, `fernet_setup`
 * and `credential_setup` in parallel (the two setups only write key files) → `PRAGMA
 * journal_mode=WAL` (required: without it every authenticated write fails with "database is
 * locked") → `bootstrap` in parallel with the uWSGI start (GET /v3 needs no database) → wait until
 * GET /v3 answers and bootstrap is done.
 *
 * Token lifetime: Keystone accepts any `expiration` ≥ 0 (no minimum), but keystoneauth (inside
 * Aetos's keystonemiddleware, and any Python client) re-authenticates whenever its own token has
 * less than 120 s left (`MIN_TOKEN_LIFE_SECONDS`). With 180 s Aetos renews its service token
 * once a minute; at 120 s or less it would authenticate again before every validation (works,
 * but each costs a password authentication). keystonemiddleware refuses a cached token once its
 * `expires_at` has passed. `[token] allow_expired_window` (default 48 h) only matters to
 * validations that ask for `allow_expired` (service tokens, which nothing here sends); left as is.
 *
 * Performance settings (measured on 2 CPUs): `[cache] enabled` with the `dogpile.cache.null`
 * backend (Keystone's per-request memoisation only, nothing shared between requests or workers)
 * and bcrypt `password_hash_rounds = 4`; start ~6 s, token validation ~50 ms, password
 * authentication ~0.1 s.
 */
export async function startKeystone(options: KeystoneOptions): Promise<Keystone> {
  const workDir = options.workDir;
  const expiration = options.tokenExpirationSec ?? 3600;
  if (!Number.isInteger(expiration) || expiration < 1) {
    throw new Error(`tokenExpirationSec must be a positive integer, got ${expiration}`);
  }
  const processes = options.processes ?? 2;
  const fernetDir = join(workDir, "fernet-keys");
  const credentialDir = join(workDir, "credential-keys");
  const dbFile = join(workDir, "keystone.db");
  const confFile = join(workDir, "keystone.conf");
  await mkdir(workDir, { recursive: true });
  await mkdir(fernetDir, { recursive: true, mode: 0o700 });
  await mkdir(credentialDir, { recursive: true, mode: 0o700 });
  await writeFile(
    confFile,
    [
      "[DEFAULT]",
      "use_stderr = true",
      "debug = false",
      "[database]",
      `connection = sqlite:///${dbFile}`,
      "[token]",
      "provider = fernet",
      `expiration = ${expiration}`,
      // The null backend shares nothing between requests or workers (so revocations and catalog or
      // role changes are seen at once), but enabling the cache turns on Keystone's per-request
      // memoisation: token validation drops from ~450 ms to ~50 ms (role look-ups repeat otherwise).
      "[cache]",
      "enabled = true",
      "backend = dogpile.cache.null",
      // bcrypt's minimum: password authentication ~0.3 s faster; test passwords need no strength.
      "[identity]",
      "password_hash_rounds = 4",
      "[fernet_tokens]",
      `key_repository = ${fernetDir}`,
      "[fernet_receipts]",
      `key_repository = ${fernetDir}`,
      "[credential]",
      `key_repository = ${credentialDir}`,
      "",
    ].join("\n"),
  );

  const port = await freePort();
  const rootUrl = `http://127.0.0.1:${port}`;
  const url = `${rootUrl}/v3`;
  const manageLog = join(workDir, "keystone-manage.log");
  const manage = (args: readonly string[], env?: NodeJS.ProcessEnv) =>
    runCommand("keystone-manage", ["--config-file", confFile, ...args], manageLog, env);
  const owner = [
    "--keystone-user",
    String(process.getuid?.() ?? 0),
    "--keystone-group",
    String(process.getgid?.() ?? 0),
  ];

  const startupTimings: Record<string, number> = {};
  const t0 = performance.now();
  const timed = async (what: string, step: Promise<void>): Promise<void> => {
    await step;
    startupTimings[what] = Math.round(performance.now() - t0);
  };
  await Promise.all([
    timed("db_sync", manage(["db_sync"])),
    timed("fernet_setup", manage(["fernet_setup", ...owner])),
    timed("credential_setup", manage(["credential_setup", ...owner])),
  ]);
  await timed("wal", runCommand("sqlite3", [dbFile, "PRAGMA journal_mode=WAL;"], manageLog));

  const serverEnv: NodeJS.ProcessEnv = { ...process.env, OS_KEYSTONE_CONFIG_FILES: confFile };
  const serverArgs = [
    "--plugin",
    "http,python3",
    "--http",
    `127.0.0.1:${port}`,
    "--wsgi-file",
    "/usr/bin/keystone-wsgi-public",
    "--master",
    "--processes",
    String(processes),
    "--threads",
    "1",
    "--lazy-apps",
    "--die-on-term",
    "--need-app",
    "--http-keepalive",
    "--http-auto-chunked",
    "--buffer-size",
    "65535",
    "--skip-atexit-teardown",
    "--env",
    `OS_KEYSTONE_CONFIG_FILES=${confFile}`,
  ];
  let server: RunningProcess | undefined;
  let logFile = join(workDir, "keystone.log");

  const startServer = async (): Promise<void> => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) return;
    const proc = await spawnLogged({
      name: "keystone",
      command: "uwsgi",
      args: serverArgs,
      logDir: workDir,
      env: serverEnv,
    });
    server = proc;
    logFile = proc.logFile;
    await waitUntil(`Keystone GET ${url}`, () => httpOk(url), { timeoutMs: 60_000, process: proc });
  };
  const stopServer = async (): Promise<void> => {
    const proc = server;
    server = undefined;
    if (proc) await proc.stop(10_000);
  };

  const bootstrapEnv: NodeJS.ProcessEnv = { ...process.env, OS_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD };
  try {
    await Promise.all([
      timed(
        "bootstrap",
        manage(
          [
            "bootstrap",
            "--bootstrap-username",
            "admin",
            "--bootstrap-project-name",
            "admin",
            "--bootstrap-role-name",
            "admin",
            "--bootstrap-service-name",
            "keystone",
            "--bootstrap-region-id",
            "RegionOne",
            "--bootstrap-public-url",
            url,
            "--bootstrap-internal-url",
            url,
          ],
          bootstrapEnv,
        ),
      ),
      timed("server", startServer()),
    ]);
  } catch (err) {
    await stopServer();
    throw err;
  }

  const admin: Required<PasswordCredentials> = {
    username: "admin",
    password: ADMIN_PASSWORD,
    projectName: "admin",
    userDomainId: "default",
    projectDomainId: "default",
  };
  let cachedAdmin: IssuedToken | undefined;

  return {
    url,
    rootUrl,
    port,
    workDir,
    tokenExpirationSec: expiration,
    admin,
    startupTimings,
    get logFile() {
      return logFile;
    },
    serving: () => server !== undefined && server.child.exitCode === null && server.child.signalCode === null,
    async adminToken() {
      if (!cachedAdmin || cachedAdmin.expiresAt.getTime() - Date.now() < 60_000) {
        cachedAdmin = await passwordToken(url, admin);
      }
      return cachedAdmin.token;
    },
    stopServer,
    startServer,
    stop: stopServer,
  };
}

// ---------------------------------------------------------------------------------------------
// Provisioning

export interface EndpointUrls {
  readonly public: string;
  readonly internal: string;
}

export interface ProvisionOptions {
  /** Where the catalog's `metric-storage` (name `aetos`) endpoints point, per region. */
  aetosUrls: { RegionOne: EndpointUrls; RegionTwo: EndpointUrls };
}

export interface ProvisionedUser extends Required<PasswordCredentials> {
  readonly id: string;
  readonly projectId: string;
}

export interface ApplicationCredential {
  readonly id: string;
  readonly secret: string;
  readonly name: string;
  readonly userId: string;
  readonly projectId: string;
}

export interface Provisioning {
  readonly keystoneUrl: string;
  readonly regionIds: readonly ["RegionOne", "RegionTwo"];
  readonly roleIds: {
    readonly admin: string;
    readonly member: string;
    readonly reader: string;
    readonly service: string;
  };
  readonly projects: {
    readonly admin: { readonly id: string; readonly name: string };
    readonly service: { readonly id: string; readonly name: string };
    readonly tenantA: { readonly id: string; readonly name: string };
    /** Its catalog only holds the identity endpoints (OS-EP-FILTER). */
    readonly noMetricStorage: { readonly id: string; readonly name: string };
  };
  /** Role `service` in project `service` (what Watcher uses against Aetos). */
  readonly watcher: ProvisionedUser;
  /** Role `reader` (only) in project `tenant-a`. */
  readonly readerA: ProvisionedUser;
  /** Aetos's keystone_authtoken user: role `admin` in project `service`, as DevStack does. */
  readonly aetosService: ProvisionedUser;
  /** Role `service` in project `no-metric-storage`, whose catalog has no `metric-storage`. */
  readonly watcherNoCatalog: ProvisionedUser;
  /** Application credential `metrics-access` of `watcher` (project `service`, role `service`). */
  readonly appCredential: ApplicationCredential;
  readonly metricStorage: {
    readonly serviceId: string;
    readonly type: "metric-storage";
    readonly name: "aetos";
    /** Endpoint ids by region and interface. */
    readonly endpointIds: {
      readonly RegionOne: { readonly public: string; readonly internal: string };
      readonly RegionTwo: { readonly public: string; readonly internal: string };
    };
  };
  /** A project-scoped token (password auth) for any user. */
  token(user: PasswordCredentials): Promise<IssuedToken>;
  /** A token from {@link appCredential}. */
  appCredentialToken(): Promise<IssuedToken>;
  /** Revokes `token` with an admin token. */
  revokeToken(token: string): Promise<void>;
  /** Disables/enables the metric-storage service: while disabled it is absent from every catalog. */
  setMetricStorageEnabled(enabled: boolean): Promise<void>;
}

const WATCHER_PASSWORD = "watcher-secret-pw";
const READER_PASSWORD = "reader-a-secret-pw";
const AETOS_PASSWORD = "aetos-secret-pw";
const NOCAT_PASSWORD = "watcher-nocat-secret-pw";

/**
 * The Aetos service user {@link provisionKeystone} creates (role admin in project service, as
 * DevStack does). Known in advance so Aetos can be started while provisioning runs:
 * keystonemiddleware only authenticates at its first token validation.
 */
export const AETOS_SERVICE_USER: Required<PasswordCredentials> = {
  username: "aetos",
  password: AETOS_PASSWORD,
  projectName: "service",
  userDomainId: "default",
  projectDomainId: "default",
};

/** Provisions the test identities and catalog through Keystone's REST API (about 2–4 s). */
export async function provisionKeystone(
  keystone: Keystone,
  options: ProvisionOptions,
): Promise<Provisioning> {
  const url = keystone.url;
  const adminToken = await keystone.adminToken();
  const secrets = [
    keystone.admin.password,
    WATCHER_PASSWORD,
    READER_PASSWORD,
    AETOS_PASSWORD,
    NOCAT_PASSWORD,
  ];
  const call = async (
    method: KsRequest["method"],
    path: string,
    body: unknown,
    expect: readonly number[],
  ): Promise<Json> => {
    const req: KsRequest = { method, path, token: adminToken, expect, secrets };
    if (body !== undefined) req.body = body;
    const res = await ksRequest(url, req);
    return res.body === null ? {} : asObject(res.body, `${method} ${path}`);
  };
  const create = async (collection: string, key: string, entity: Json): Promise<string> => {
    const body = await call("POST", `/${collection}`, { [key]: entity }, [201]);
    return asString(asObject(body[key], key).id, `${key}.id`);
  };
  const findOne = async (collection: string, query: string): Promise<Json[]> => {
    const body = await call("GET", `/${collection}?${query}`, undefined, [200]);
    return asArray(body[collection], collection).map((x) => asObject(x, collection));
  };

  // 1. Independent entities, and look-ups of what bootstrap made.
  const [
    ,
    serviceRoleId,
    serviceProjectId,
    tenantAProjectId,
    noCatProjectId,
    metricServiceId,
    roles,
    adminProjects,
    identityServices,
  ] = await Promise.all([
    create("regions", "region", { id: "RegionTwo", description: "second region for tests" }),
    create("roles", "role", { name: "service" }),
    create("projects", "project", { name: "service", domain_id: "default", description: "service users" }),
    create("projects", "project", { name: "tenant-a", domain_id: "default" }),
    create("projects", "project", { name: "no-metric-storage", domain_id: "default" }),
    create("services", "service", { type: "metric-storage", name: "aetos", enabled: true }),
    findOne("roles", ""),
    findOne("projects", "name=admin"),
    findOne("services", "type=identity"),
  ]);
  const roleId = (name: string): string => {
    const r = roles.find((x) => x.name === name);
    if (!r) throw new Error(`Keystone has no role ${name} after bootstrap`);
    return asString(r.id, `role ${name} id`);
  };
  const adminProjectId = asString(adminProjects[0]?.id, "admin project id");
  const identityServiceId = asString(identityServices[0]?.id, "identity service id");

  // 2. Users, endpoints, and the endpoint filter of the no-metric-storage project.
  const endpoint = (region: string, iface: string, endpointUrl: string) =>
    create("endpoints", "endpoint", {
      service_id: metricServiceId,
      interface: iface,
      region_id: region,
      url: endpointUrl,
      enabled: true,
    });
  const user = (name: string, password: string, projectId: string) =>
    create("users", "user", {
      name,
      password,
      domain_id: "default",
      default_project_id: projectId,
      enabled: true,
    });
  const [
    watcherId,
    readerId,
    aetosId,
    noCatUserId,
    r1Public,
    r1Internal,
    r2Public,
    r2Internal,
    identityEndpoints,
  ] = await Promise.all([
    user("watcher", WATCHER_PASSWORD, serviceProjectId),
    user("reader-a", READER_PASSWORD, tenantAProjectId),
    user(AETOS_SERVICE_USER.username, AETOS_SERVICE_USER.password, serviceProjectId),
    user("watcher-nocat", NOCAT_PASSWORD, noCatProjectId),
    endpoint("RegionOne", "public", options.aetosUrls.RegionOne.public),
    endpoint("RegionOne", "internal", options.aetosUrls.RegionOne.internal),
    endpoint("RegionTwo", "public", options.aetosUrls.RegionTwo.public),
    endpoint("RegionTwo", "internal", options.aetosUrls.RegionTwo.internal),
    findOne("endpoints", `service_id=${identityServiceId}`),
  ]);

  // 3. Role assignments and endpoint-filter associations (all PUTs, 204).
  const grant = (projectId: string, userId: string, role: string) =>
    call("PUT", `/projects/${projectId}/users/${userId}/roles/${role}`, undefined, [204]);
  await Promise.all([
    grant(serviceProjectId, watcherId, serviceRoleId),
    grant(tenantAProjectId, readerId, roleId("reader")),
    grant(serviceProjectId, aetosId, roleId("admin")),
    grant(noCatProjectId, noCatUserId, serviceRoleId),
    ...identityEndpoints.map((ep) =>
      call(
        "PUT",
        `/OS-EP-FILTER/projects/${noCatProjectId}/endpoints/${asString(ep.id, "identity endpoint id")}`,
        undefined,
        [204],
      ),
    ),
  ]);

  const mkUser = (
    id: string,
    username: string,
    password: string,
    projectId: string,
    projectName: string,
  ) => ({
    id,
    username,
    password,
    projectId,
    projectName,
    userDomainId: "default",
    projectDomainId: "default",
  });
  const watcher = mkUser(watcherId, "watcher", WATCHER_PASSWORD, serviceProjectId, "service");

  // 4. The application credential, created with watcher's own token.
  const watcherToken = await passwordToken(url, watcher);
  const appCredRes = await ksRequest(url, {
    method: "POST",
    path: `/users/${watcherId}/application_credentials`,
    token: watcherToken.token,
    body: {
      application_credential: { name: "metrics-access", description: "metrics-access integration tests" },
    },
    expect: [201],
    secrets,
  });
  const appCredBody = asObject(
    asObject(appCredRes.body, "app credential").application_credential,
    "app credential",
  );
  const appCredential: ApplicationCredential = {
    id: asString(appCredBody.id, "application_credential.id"),
    secret: asString(appCredBody.secret, "application_credential.secret"),
    name: asString(appCredBody.name, "application_credential.name"),
    userId: watcherId,
    projectId: serviceProjectId,
  };

  return {
    keystoneUrl: url,
    regionIds: ["RegionOne", "RegionTwo"],
    roleIds: {
      admin: roleId("admin"),
      member: roleId("member"),
      reader: roleId("reader"),
      service: serviceRoleId,
    },
    projects: {
      admin: { id: adminProjectId, name: "admin" },
      service: { id: serviceProjectId, name: "service" },
      tenantA: { id: tenantAProjectId, name: "tenant-a" },
      noMetricStorage: { id: noCatProjectId, name: "no-metric-storage" },
    },
    watcher,
    readerA: mkUser(readerId, "reader-a", READER_PASSWORD, tenantAProjectId, "tenant-a"),
    aetosService: mkUser(aetosId, "aetos", AETOS_PASSWORD, serviceProjectId, "service"),
    watcherNoCatalog: mkUser(
      noCatUserId,
      "watcher-nocat",
      NOCAT_PASSWORD,
      noCatProjectId,
      "no-metric-storage",
    ),
    appCredential,
    metricStorage: {
      serviceId: metricServiceId,
      type: "metric-storage",
      name: "aetos",
      endpointIds: {
        RegionOne: { public: r1Public, internal: r1Internal },
        RegionTwo: { public: r2Public, internal: r2Internal },
      },
    },
    token: (u) => passwordToken(url, u),
    appCredentialToken: () => applicationCredentialToken(url, appCredential),
    revokeToken: async (token) => revokeToken(url, await keystone.adminToken(), token),
    setMetricStorageEnabled: async (enabled) => {
      await ksRequest(url, {
        method: "PATCH",
        path: `/services/${metricServiceId}`,
        token: await keystone.adminToken(),
        body: { service: { enabled } },
        expect: [200],
      });
    },
  };
}
