/**
 * A stand-in for Prometheus whose query answers are written byte by byte by the test: truncated
 * JSON, a body cut off mid-stream, an answer of the wrong shape, an answer larger than any client
 * should read — what a real Prometheus cannot be made to send. The target list, the series names
 * and buildinfo are always answered at once and correctly, so host resolution and readiness succeed
 * and the query is what misbehaves. Plain node:http on 127.0.0.1.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Answers one /api/v1/query request, however it likes (the request body is already drained). */
export type QueryAnswer = (req: IncomingMessage, res: ServerResponse) => void;

export interface FaultyPrometheus {
  readonly host: string;
  readonly port: number;
  /** /api/v1/query requests received so far. */
  readonly queries: number;
  /** Changes how the following queries are answered. */
  setQuery(answer: QueryAnswer): void;
  stop(): Promise<void>;
}

/** A valid instant-vector answer with one sample of `value` for `host`. */
export function vectorBody(host: string, value: string): string {
  return JSON.stringify({
    status: "success",
    data: { resultType: "vector", result: [{ metric: { fqdn: host }, value: [Date.now() / 1000, value] }] },
  });
}

export async function startFaultyPrometheus(options: {
  readonly hosts: readonly string[];
  readonly series: readonly string[];
  readonly query: QueryAnswer;
}): Promise<FaultyPrometheus> {
  let answer = options.query;
  let queries = 0;
  const sockets = new Set<Socket>();
  const json = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://fake").pathname;
    req.resume();
    switch (path) {
      case "/api/v1/targets":
        json(res, {
          status: "success",
          data: {
            activeTargets: options.hosts.map((host, i) => ({
              labels: { fqdn: host, instance: `10.0.0.${i + 1}:9100`, job: "node" },
              health: "up",
            })),
            droppedTargets: [],
          },
        });
        return;
      case "/api/v1/status/buildinfo":
        json(res, { status: "success", data: { version: "fake" } });
        return;
      case "/api/v1/label/__name__/values":
        json(res, { status: "success", data: [...options.series].sort() });
        return;
      case "/api/v1/query":
        queries++;
        answer(req, res);
        return;
      default:
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: "error", errorType: "not_found", error: "no such path" }));
    }
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    get queries() {
      return queries;
    },
    setQuery(next) {
      answer = next;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
