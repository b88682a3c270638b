/**
 * A real Keystone (Debian bookworm's `keystone` package, OpenStack Zed) for the integration tests:
 * a fresh sqlite database under a work directory, fernet tokens, served by uWSGI on 127.0.0.1. The
 * test identities and catalog come from provisionKeystone (keystone-provision.ts).
 */
import { spawn } from "node:child_process";
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type IssuedToken, type PasswordCredentials, passwordToken } from "./keystone-api.js";
import { freePort, httpOk, type RunningProcess, spawnLogged, waitUntil } from "./processes.js";
import { uwsgiWorkerArgs } from "./uwsgi.js";

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
    ...uwsgiWorkerArgs(processes),
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
