/**
 * Helpers for the Aetos system tests (aetos, aetos-token-lifecycle, secrets):
 *  - {@link startRecordingProxy}: a plain HTTP forwarder that records every exchange, put between
 *    the service and Keystone (to see the tokens Keystone really issued, and when) or between the
 *    service and Aetos or Prometheus (to see which requests carried which credentials, and what
 *    the upstream answered);
 *  - option builders for the Aetos datasource.
 * Recorded values (tokens included) stay in test memory; nothing here prints them.
 */
import { Agent, createServer, type IncomingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";
import type { Options } from "./app.js";

/** What a Keystone fernet token looks like (Zed: `gAAAAAB…`, ~180 characters, URL-safe base64). */
export const FERNET_TOKEN = /gAAAAA[A-Za-z0-9_-]{20,}/;

// ---------------------------------------------------------------------------------------------
// Recording proxy

export interface Exchange {
  /** Date.now() when the request arrived. */
  readonly at: number;
  readonly method: string;
  /** Path and query as received. */
  readonly path: string;
  /** Lower-case header names, values joined with ", ". */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** Undefined when the upstream could not be reached (the client's connection is then destroyed). */
  status: number | undefined;
  responseHeaders: Record<string, string>;
  /** The response body, when the proxy records bodies. */
  responseBody: string | undefined;
  /** Date.now() when the answer was complete. */
  doneAt: number | undefined;
}

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  readonly exchanges: Exchange[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "content-length",
]);

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/**
 * Forwards every request to `target` (127.0.0.1) unchanged but for hop-by-hop headers, buffers the
 * answer, records the exchange, and passes the answer on. When the target cannot be reached, the
 * client's connection is destroyed, as if the target itself were down.
 */
export async function startRecordingProxy(target: {
  readonly port: number;
  readonly host?: string;
  readonly recordBodies?: boolean;
}): Promise<RecordingProxy> {
  const host = target.host ?? "127.0.0.1";
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const requestHeaders = flatHeaders(req.headers);
      const exchange: Exchange = {
        at: Date.now(),
        method: req.method ?? "GET",
        path: req.url ?? "/",
        requestHeaders,
        status: undefined,
        responseHeaders: {},
        responseBody: undefined,
        doneAt: undefined,
      };
      exchanges.push(exchange);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(requestHeaders)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
      headers.host = `${host}:${target.port}`;
      if (body.length > 0) headers["content-length"] = String(body.length);
      const up = request(
        { host, port: target.port, method: exchange.method, path: exchange.path, headers, agent },
        (upRes) => {
          const parts: Buffer[] = [];
          upRes.on("data", (c: Buffer) => parts.push(c));
          upRes.on("end", () => {
            const answer = Buffer.concat(parts);
            exchange.status = upRes.statusCode ?? 0;
            exchange.responseHeaders = flatHeaders(upRes.headers);
            if (target.recordBodies) exchange.responseBody = answer.toString("utf8");
            exchange.doneAt = Date.now();
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(exchange.responseHeaders)) if (!HOP_BY_HOP.has(k)) out[k] = v;
            out["content-length"] = String(answer.length);
            res.writeHead(exchange.status, out);
            res.end(answer);
          });
          upRes.on("error", () => res.destroy());
        },
      );
      up.on("error", () => {
        exchange.doneAt = Date.now();
        res.destroy();
      });
      up.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    exchanges,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** A token Keystone issued through a recording proxy: what the service received. */
export interface IssuedThroughProxy {
  readonly token: string;
  /** Unix ms, from the body's expires_at. */
  readonly expiresAt: number;
  /** Date.now() when the answer passed the proxy. */
  readonly issuedAt: number;
  readonly userAgent: string;
}

/** The successful `POST …/auth/tokens` answers a Keystone proxy (recording bodies) passed on. */
export function issuedTokens(proxy: RecordingProxy, from = 0): IssuedThroughProxy[] {
  return proxy.exchanges.slice(from).flatMap((e) => {
    if (e.method !== "POST" || !/\/auth\/tokens$/.test(e.path) || e.status !== 201) return [];
    const token = e.responseHeaders["x-subject-token"];
    const body = JSON.parse(e.responseBody ?? "{}") as { token?: { expires_at?: string } };
    if (!token) return [];
    return [
      {
        token,
        expiresAt: Date.parse(body.token?.expires_at ?? ""),
        issuedAt: e.doneAt ?? e.at,
        userAgent: e.requestHeaders["user-agent"] ?? "",
      },
    ];
  });
}

// ---------------------------------------------------------------------------------------------
// Options

export interface PasswordUser {
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainId: string;
  readonly projectDomainId: string;
}

/** [watcher_datasources] aetos with [watcher_clients_auth] password auth of `user`. */
export function aetosPasswordOptions(authUrl: string, user: PasswordUser, extra: Options = {}): Options {
  return {
    "watcher_datasources.datasources": "aetos",
    "watcher_clients_auth.auth_type": "password",
    "watcher_clients_auth.auth_url": authUrl,
    "watcher_clients_auth.username": user.username,
    "watcher_clients_auth.password": user.password,
    "watcher_clients_auth.user_domain_id": user.userDomainId,
    "watcher_clients_auth.project_name": user.projectName,
    "watcher_clients_auth.project_domain_id": user.projectDomainId,
    ...extra,
  };
}

/** [watcher_datasources] aetos with a v3applicationcredential (id + secret). */
export function aetosAppCredentialOptions(
  authUrl: string,
  credential: { readonly id: string; readonly secret: string },
  extra: Options = {},
): Options {
  return {
    "watcher_datasources.datasources": "aetos",
    "watcher_clients_auth.auth_type": "v3applicationcredential",
    "watcher_clients_auth.auth_url": authUrl,
    "watcher_clients_auth.application_credential_id": credential.id,
    "watcher_clients_auth.application_credential_secret": credential.secret,
    ...extra,
  };
}

/** The service's "keystone token issued" log lines. */
export function tokenIssuedLines(logs: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return logs.filter((l) => l.msg === "keystone token issued");
}
