/**
 * A real reverse proxy: Debian's nginx (`nginx-light`), started as a plain foreground process on a
 * free 127.0.0.1 port with its own configuration, pid file, temporary directories and logs in a
 * fresh directory, never Debian's service. Its access log is one JSON object a line and records, for
 * every request, the headers a multi-tenant store reads: `X-Scope-OrgID` (Mimir, Cortex, Thanos)
 * and `Authorization`. Fails, never skips, when nginx is missing.
 */
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { httpOk, type RunningProcess, spawnLogged, waitUntilOrStop, withPortRetry } from "./processes.js";

/** Where Debian's nginx packages install the program. */
export const NGINX_COMMAND = "/usr/sbin/nginx";

/** One `location` block: proxied to an upstream, or answered by nginx itself. */
export type NginxLocation =
  | {
      /** A path prefix, e.g. `/select/0/prometheus/`. */
      readonly path: string;
      /** `http://127.0.0.1:PORT/…`: nginx's proxy_pass (with a path, the prefix is replaced by it). */
      readonly proxyPass: string;
    }
  | {
      readonly path: string;
      /** Answered by nginx (`return STATUS 'BODY'`), as application/json; BODY may use nginx variables. */
      readonly answer: { readonly status: number; readonly body: string };
    };

/** One line of the access log. */
export interface NginxLogLine {
  /** The request line, e.g. `GET /api/v1/targets?state=active HTTP/1.0` … as the client sent it. */
  readonly request: string;
  readonly uri: string;
  readonly status: number;
  /** `$http_x_scope_orgid`: "" when the header was not sent. */
  readonly tenant: string;
  /** `$http_authorization`: "" when the header was not sent. */
  readonly authorization: string;
  readonly userAgent: string;
}

export interface RunningNginx {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly workDir: string;
  readonly process: RunningProcess;
  /** Every request logged so far (the log is written as each request ends). */
  accessLog(): Promise<NginxLogLine[]>;
  stop(): Promise<void>;
}

/** The configuration nginx runs with: everything under `workDir`, nothing of /etc/nginx. */
export function nginxConfig(workDir: string, port: number, locations: readonly NginxLocation[]): string {
  const blocks = locations.map((l) =>
    "proxyPass" in l
      ? `    location ${l.path} {\n      proxy_pass ${l.proxyPass};\n    }`
      : `    location ${l.path} {\n      return ${l.answer.status} '${l.answer.body.replace(/'/g, "\\'")}';\n    }`,
  );
  return `# Written by test/support/nginx.ts
daemon off;
worker_processes 1;
pid ${join(workDir, "nginx.pid")};
error_log ${join(workDir, "error.log")} info;
events {
  worker_connections 64;
}
http {
  default_type application/json;
  client_body_temp_path ${join(workDir, "client-body")};
  proxy_temp_path ${join(workDir, "proxy")};
  fastcgi_temp_path ${join(workDir, "fastcgi")};
  uwsgi_temp_path ${join(workDir, "uwsgi")};
  scgi_temp_path ${join(workDir, "scgi")};
  # Answers are read whole into memory: no temporary file under a directory the worker may not own.
  proxy_max_temp_file_size 0;
  log_format tenants escape=json '{"request":"$request","uri":"$request_uri","status":$status,'
    '"tenant":"$http_x_scope_orgid","authorization":"$http_authorization","userAgent":"$http_user_agent"}';
  access_log ${join(workDir, "access.log")} tenants;
  server {
    listen 127.0.0.1:${port};
    location = /nginx-ready {
      access_log off;
      return 200 '{"ready":true}';
    }
${blocks.join("\n")}
  }
}
`;
}

/** Starts nginx with `locations` on a free port and waits until it answers. */
export async function startNginx(options: {
  readonly baseDir: string;
  readonly locations: readonly NginxLocation[];
  readonly timeoutMs?: number;
}): Promise<RunningNginx> {
  await access(NGINX_COMMAND, constants.X_OK).catch(() => {
    throw new Error(
      `${NGINX_COMMAND} is not installed: scripts/install-test-deps.sh installs Debian's nginx-light package`,
    );
  });
  await mkdir(options.baseDir, { recursive: true });
  const workDir = await mkdtemp(join(options.baseDir, "nginx-"));
  const accessLog = join(workDir, "access.log");
  const { proc, port } = await withPortRetry(async (port) => {
    const configFile = join(workDir, "nginx.conf");
    await writeFile(configFile, nginxConfig(workDir, port, options.locations));
    // -e: the error log before the configuration is read (else /var/log/nginx/error.log).
    const proc = await spawnLogged({
      name: "nginx",
      command: NGINX_COMMAND,
      args: ["-p", workDir, "-c", configFile, "-e", join(workDir, "error.log")],
      logDir: workDir,
      cwd: workDir,
    });
    await waitUntilOrStop("nginx answers", () => httpOk(`http://127.0.0.1:${port}/nginx-ready`), {
      timeoutMs: options.timeoutMs ?? 20_000,
      process: proc,
      intervalMs: 50,
    });
    return { proc, port };
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    workDir,
    process: proc,
    async accessLog() {
      const text = await readFile(accessLog, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as NginxLogLine);
    },
    stop: () => proc.stop(),
  };
}
