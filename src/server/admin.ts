import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { errorCodeOf, MetricsAccessError } from "../errors.js";

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  /** Whether the upstream answered the last readiness probe. */
  readonly ready: () => boolean;
  /** The Prometheus exposition text of the self-metrics. */
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The admin port, apart from the gRPC port so that it can listen on every interface (kubelet's
 * probes come from the node) while gRPC stays on loopback: GET /healthz (the process lives),
 * /readyz (the upstream answers) and /metrics. HEAD as GET; every other method 405, other paths 404.
 */
export function adminHandler(options: Pick<AdminOptions, "ready" | "metrics">) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, contentType = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (path !== "/healthz" && path !== "/readyz" && path !== "/metrics") {
      send(404, "not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      send(405, "method not allowed\n");
      return;
    }
    if (path === "/healthz") send(200, "ok\n");
    else if (path === "/readyz") {
      if (options.ready()) send(200, "ready\n");
      else send(503, "upstream not answering\n");
    } else {
      options.metrics().then(
        ({ contentType, body }) => send(200, body, contentType),
        () => send(500, "cannot collect metrics\n"),
      );
    }
  };
}

/** Starts the admin HTTP server; fails like the gRPC listener when the address cannot be taken. */
export async function listenAdmin(options: AdminOptions): Promise<AdminServer> {
  const server = createServer(adminHandler(options));
  server.listen(options.port, options.host);
  try {
    await once(server, "listening");
  } catch (err) {
    throw new MetricsAccessError(
      "unavailable",
      `[metrics_access] admin_listen ${options.host}:${options.port}: cannot listen (${errorCodeOf(err, "unknown error")})`,
      { reason: "LISTEN_FAILED", cause: err },
    );
  }
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
