/**
 * A stand-in for Prometheus that shows faults a real one cannot be made to show on demand: it
 * never answers a query, answers it slowly, or answers it with an error status. The target list
 * and the series names (/api/v1/label/__name__/values, which the service reads when a query comes
 * back empty) are always answered at once, with valid JSON, so host resolution and the series check
 * succeed and the query is what misbehaves. It also records how each query came (GET or a POSTed
 * form), which a real Prometheus does not tell. Plain node:http on 127.0.0.1.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type QueryBehaviour =
  /** Accept the request and never answer. */
  | { readonly kind: "hang" }
  /** Answer a one-element vector `value` after `delayMs`. */
  | { readonly kind: "slow"; readonly delayMs: number; readonly value: string }
  /** Answer with `status` and the JSON `body`. */
  | { readonly kind: "status"; readonly status: number; readonly body: unknown };

export interface FakePrometheusOptions {
  readonly query: QueryBehaviour;
  /** Host label values of the active targets, default ["compute-1.example"]. */
  readonly hosts?: readonly string[];
  /** Host label name, default "fqdn". */
  readonly hostLabel?: string;
  /**
   * The series names the fake says it holds (GET /api/v1/label/__name__/values), default
   * {@link DEFAULT_SERIES}: those of host_cpu_usage, host_ram_usage, instance_cpu_usage and
   * instance_ram_usage.
   */
  readonly series?: readonly string[];
}

/** The series Watcher's four Prometheus metrics read. */
export const DEFAULT_SERIES: readonly string[] = [
  "ceilometer_cpu",
  "ceilometer_memory_usage",
  "node_cpu_seconds_total",
  "node_memory_MemAvailable_bytes",
  "node_memory_MemTotal_bytes",
];

/** One /api/v1/query request the fake received. */
export interface SeenQuery {
  readonly method: string;
  readonly promql: string;
  /** The `time` parameter, when the service sent one. */
  readonly time: string | null;
  readonly receivedAt: number;
  /** When the client closed the connection before the fake answered (performance.now()). */
  closedEarlyAt: number | undefined;
  answered: boolean;
}

export interface FakePrometheus {
  readonly host: string;
  readonly port: number;
  readonly queries: readonly SeenQuery[];
  /** Paths of every request, in order of arrival. */
  readonly paths: readonly string[];
  /** Changes how the following queries are answered. */
  setQuery(behaviour: QueryBehaviour): void;
  /** Resolves with the next query request that arrives. */
  nextQuery(timeoutMs: number): Promise<SeenQuery>;
  stop(): Promise<void>;
}

export async function startFakePrometheus(options: FakePrometheusOptions): Promise<FakePrometheus> {
  const queries: SeenQuery[] = [];
  const paths: string[] = [];
  const waiters: ((q: SeenQuery) => void)[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const label = options.hostLabel ?? "fqdn";
  const hosts = options.hosts ?? ["compute-1.example"];
  const series = options.series ?? DEFAULT_SERIES;
  let behaviour = options.query;

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake");
    let body = "";
    for await (const chunk of req) body += String(chunk);
    const form = req.method === "POST" ? new URLSearchParams(body) : url.searchParams;
    paths.push(url.pathname);
    if (url.pathname === "/api/v1/targets") {
      json(res, 200, {
        status: "success",
        data: {
          activeTargets: hosts.map((host, i) => ({
            labels: { [label]: host, instance: `10.0.0.${i + 1}:9100`, job: "node" },
            health: "up",
          })),
          droppedTargets: [],
        },
      });
      return;
    }
    if (url.pathname === "/api/v1/status/buildinfo") {
      // What the service's readiness probe reads; not counted among the paths.
      paths.pop();
      json(res, 200, { status: "success", data: { version: "fake" } });
      return;
    }
    if (url.pathname === "/api/v1/label/__name__/values") {
      json(res, 200, { status: "success", data: [...series].sort() });
      return;
    }
    if (url.pathname !== "/api/v1/query") {
      json(res, 404, { status: "error", errorType: "not_found", error: "no such path" });
      return;
    }
    const seen: SeenQuery = {
      method: req.method ?? "",
      promql: form.get("query") ?? "",
      time: form.get("time"),
      receivedAt: performance.now(),
      closedEarlyAt: undefined,
      answered: false,
    };
    queries.push(seen);
    res.once("close", () => {
      if (!seen.answered) seen.closedEarlyAt = performance.now();
    });
    for (const wake of waiters.splice(0)) wake(seen);
    switch (behaviour.kind) {
      case "hang":
        return;
      case "slow": {
        const { delayMs, value } = behaviour;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (res.destroyed) return;
          seen.answered = true;
          json(res, 200, {
            status: "success",
            data: {
              resultType: "vector",
              result: [{ metric: { [label]: hosts[0] ?? "" }, value: [Date.now() / 1000, value] }],
            },
          });
        }, delayMs);
        timers.add(timer);
        return;
      }
      case "status":
        seen.answered = true;
        json(res, behaviour.status, behaviour.body);
        return;
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    host: "127.0.0.1",
    port,
    queries,
    paths,
    setQuery(next) {
      behaviour = next;
    },
    nextQuery(timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no query reached the fake within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((q) => {
          clearTimeout(timer);
          resolve(q);
        });
      });
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves once `seen` has been closed by the client, or rejects after `timeoutMs`. */
export async function waitForClose(seen: SeenQuery, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (seen.closedEarlyAt === undefined) {
    if (performance.now() > deadline) throw new Error(`the query socket stayed open for ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return seen.closedEarlyAt;
}
