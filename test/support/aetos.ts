/**
 * The real OpenStack Aetos (Debian forky's `aetos` package, unpacked into `.deps/aetos/root` by
 * scripts/install-test-deps.sh) served by uWSGI the way DevStack mounts it (`/prometheus`), in
 * front of a Prometheus that serves its API at the root path (Aetos has no path-prefix option).
 *
 * Token cache: keystonemiddleware caches each validated token for `token_cache_time` seconds,
 * in-process (no memcached), separately in every uWSGI worker, and does not re-check a cached
 * token with Keystone. That makes two test needs pull in opposite directions:
 *  - "a revoked token gets 401": Aetos keeps accepting a token it validated before the revocation
 *    until that worker's cache entry expires, so the test must wait `tokenCacheTimeSec` (+ margin)
 *    after revoking (a token Aetos has never seen is refused at once);
 *  - "Keystone stopped, queries keep working": every request during the outage must hit a worker
 *    whose cache entry is still alive, otherwise Aetos answers 503. A cache entry is written at
 *    validation time and a cache hit does not extend it, so the outage window is only safe if the
 *    token was first validated shortly before Keystone was stopped (use a token Aetos has not seen,
 *    or one last validated more than `tokenCacheTimeSec` ago) and the outage lasts well under
 *    `tokenCacheTimeSec`. With 2 workers both must have validated it: {@link primeAetosTokenCache}
 *    sends concurrent requests so that each worker gets one.
 * The default, {@link DEFAULT_TOKEN_CACHE_TIME_SEC} = 20 s, keeps the revocation wait short and
 * leaves a Keystone outage of ~10 s (stop ~1 s, a few queries, restart ~4 s) a wide margin.
 */
import { lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch as undiciFetch } from "undici";
import { freePort, httpOk, type RunningProcess, spawnLogged, waitUntil } from "./processes.js";
import { uwsgiWorkerArgs } from "./uwsgi.js";

export const DEFAULT_TOKEN_CACHE_TIME_SEC = 20;

export interface AetosKeystoneAuth {
  /** Keystone's `…/v3` URL (keystone_authtoken `auth_url`; `www_authenticate_uri` is its root). */
  readonly url: string;
  /** The service user keystonemiddleware validates tokens with (needs admin or service role). */
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  /** Default `default`. */
  readonly userDomainId?: string;
  /** Default `default`. */
  readonly projectDomainId?: string;
}

export interface AetosOptions {
  /** `<workDir>/.aetos/aetos.conf` is written there, and uWSGI runs with HOME=workDir. */
  workDir: string;
  keystone: AetosKeystoneAuth;
  prometheusHost: string;
  prometheusPort: number;
  /** Listen port; default a free one. Pass one when the catalog was registered beforehand. */
  port?: number;
  /** uWSGI worker processes (default 2, one thread each). */
  processes?: number;
  /** keystonemiddleware `token_cache_time` (default {@link DEFAULT_TOKEN_CACHE_TIME_SEC}; -1 disables). */
  tokenCacheTimeSec?: number;
  /** Default: `<repo>/.deps/aetos/root`. */
  aetosRoot?: string;
  /**
   * Serve https (uWSGI's `--https` router) instead of http, with this server certificate and key;
   * `ca` (PEM) verifies it for the health check. `url` is then `https://…`.
   */
  https?: { readonly certFile: string; readonly keyFile: string; readonly ca: Buffer };
}

export interface Aetos {
  /** `http://127.0.0.1:<port>/prometheus`, the URL to register in the catalog. */
  readonly url: string;
  readonly port: number;
  /** The Aetos version that runs (from its egg-info), e.g. `3.0.0`. */
  readonly version: string;
  readonly observabilityClientVersion: string;
  readonly tokenCacheTimeSec: number;
  readonly processes: number;
  readonly logFile: string;
  /** Stops uWSGI (all of Aetos's token caches are lost). */
  stopServer(): Promise<void>;
  /** Starts it again on the same port; waits for /prometheus/healthcheck. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

const defaultAetosRoot = fileURLToPath(new URL("../../.deps/aetos/root", import.meta.url));

async function packageVersion(distPackages: string, prefix: string): Promise<string> {
  const entries = await readdir(distPackages);
  const info = entries.find((e) => e.startsWith(prefix) && /\.(egg|dist)-info$/.test(e));
  if (!info) throw new Error(`no ${prefix}*.egg-info under ${distPackages}`);
  for (const file of ["PKG-INFO", "METADATA"]) {
    const text = await readFile(join(distPackages, info, file), "utf8").catch(() => undefined);
    const m = text?.match(/^Version:\s*(\S+)/m);
    if (m?.[1]) return m[1];
  }
  throw new Error(`no Version in ${join(distPackages, info)}`);
}

async function assertInstalled(aetosRoot: string): Promise<string> {
  const distPackages = join(aetosRoot, "usr/lib/python3/dist-packages");
  const hint =
    "run `bash scripts/install-test-deps.sh` (it downloads Aetos from Debian forky into .deps/aetos)";
  const pkg = await lstat(join(distPackages, "aetos")).catch(() => undefined);
  if (!pkg?.isDirectory())
    throw new Error(`Aetos is not installed: ${join(distPackages, "aetos")} is missing; ${hint}`);
  const obs = await lstat(join(distPackages, "observabilityclient")).catch(() => undefined);
  if (!obs?.isDirectory())
    throw new Error(`python3-observabilityclient is missing under ${distPackages}; ${hint}`);
  const paste = await lstat(join(distPackages, "aetos/api-paste.ini")).catch(() => undefined);
  if (!paste?.isFile()) {
    throw new Error(
      `${join(distPackages, "aetos/api-paste.ini")} is not a regular file (the package ships a symlink into /etc/aetos); ${hint}`,
    );
  }
  return distPackages;
}

/** Writes aetos.conf, starts Aetos under uWSGI and waits for /prometheus/healthcheck (~2–3 s). */
export async function startAetos(options: AetosOptions): Promise<Aetos> {
  const distPackages = await assertInstalled(options.aetosRoot ?? defaultAetosRoot);
  const [version, observabilityClientVersion] = await Promise.all([
    packageVersion(distPackages, "aetos-"),
    packageVersion(distPackages, "python_observabilityclient-"),
  ]);
  const tokenCacheTimeSec = options.tokenCacheTimeSec ?? DEFAULT_TOKEN_CACHE_TIME_SEC;
  const processes = options.processes ?? 2;
  const port = options.port ?? (await freePort());
  const ks = options.keystone;
  const keystoneRoot = ks.url.replace(/\/v3\/?$/, "");

  const confDir = join(options.workDir, ".aetos");
  await mkdir(confDir, { recursive: true });
  await writeFile(
    join(confDir, "aetos.conf"),
    [
      "[DEFAULT]",
      "auth_mode = keystone",
      "debug = true",
      "use_stderr = true",
      "",
      "[prometheus]",
      `host = ${options.prometheusHost}`,
      `port = ${options.prometheusPort}`,
      "",
      "[keystone_authtoken]",
      `www_authenticate_uri = ${keystoneRoot}`,
      `auth_url = ${ks.url}`,
      "auth_type = password",
      `username = ${ks.username}`,
      `password = ${ks.password}`,
      `project_name = ${ks.projectName}`,
      `user_domain_id = ${ks.userDomainId ?? "default"}`,
      `project_domain_id = ${ks.projectDomainId ?? "default"}`,
      `token_cache_time = ${tokenCacheTimeSec}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );

  const args = [
    "--plugin",
    "http,python3",
    ...(options.https
      ? ["--https", `127.0.0.1:${port},${options.https.certFile},${options.https.keyFile}`]
      : ["--http", `127.0.0.1:${port}`]),
    "--pythonpath",
    distPackages,
    "--mount",
    "/prometheus=aetos.wsgi.api:application",
    "--manage-script-name",
    "--no-default-app",
    ...uwsgiWorkerArgs(processes),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: options.workDir };
  const url = `${options.https ? "https" : "http"}://127.0.0.1:${port}/prometheus`;
  const healthy = options.https ? httpsOk(options.https.ca) : httpOk;
  let server: RunningProcess | undefined;
  let logFile = join(options.workDir, "aetos.log");

  const startServer = async (): Promise<void> => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) return;
    const proc = await spawnLogged({ name: "aetos", command: "uwsgi", args, logDir: options.workDir, env });
    server = proc;
    logFile = proc.logFile;
    await waitUntil(`Aetos ${url}/healthcheck`, () => healthy(`${url}/healthcheck`), {
      timeoutMs: 60_000,
      process: proc,
    });
  };
  const stopServer = async (): Promise<void> => {
    const proc = server;
    server = undefined;
    if (proc) await proc.stop(10_000);
  };

  try {
    await startServer();
  } catch (err) {
    await stopServer();
    throw err;
  }
  process.stderr.write(
    `aetos ${version} (python-observabilityclient ${observabilityClientVersion}) serving ${url}, token_cache_time=${tokenCacheTimeSec}s, ${processes} workers\n`,
  );
  return {
    url,
    port,
    version,
    observabilityClientVersion,
    tokenCacheTimeSec,
    processes,
    get logFile() {
      return logFile;
    },
    stopServer,
    startServer,
    stop: stopServer,
  };
}

/** httpOk over https, trusting `ca`. */
function httpsOk(ca: Buffer): (url: string) => Promise<boolean> {
  return async (url) => {
    const agent = new Agent({ connect: { ca } });
    try {
      const res = await undiciFetch(url, { dispatcher: agent, signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.ok;
    } finally {
      await agent.close();
    }
  };
}

/**
 * Makes every Aetos worker validate (and cache) `token`: sends `concurrency` simultaneous
 * `GET targets?state=active` (a worker handles one request at a time, so each one gets at least
 * one). Only a token that is not cached yet gets a fresh cache entry; see the module comment.
 * Returns the statuses (all 200 for a service-role token).
 */
export async function primeAetosTokenCache(aetos: Aetos, token: string, concurrency = 4): Promise<number[]> {
  return await Promise.all(
    Array.from({ length: Math.max(concurrency, aetos.processes * 2) }, async () => {
      const res = await fetch(`${aetos.url}/api/v1/targets?state=active`, {
        headers: { "X-Auth-Token": token },
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      return res.status;
    }),
  );
}
