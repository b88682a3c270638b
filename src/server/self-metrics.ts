import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { TokenIssueKind } from "../clients/token-source.js";
import type { Backend, UpstreamOutcome } from "../clients/upstream-observer.js";
import type { SharedQueryCounts } from "../datasource/shared-queries.js";
import type { UpstreamLimitCounts } from "../datasource/upstream-limit.js";

/** gRPC method types as go-grpc-prometheus names them in grpc_type. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/** Counts one RPC: started now, handled when `handled` runs with the gRPC code's name ("OK", "NotFound"…). */
export interface RpcCounter {
  start(rpc: string, type: GrpcType): (code: string) => void;
}

/** connect's methodKind as grpc_type. */
export function grpcType(methodKind: string): GrpcType {
  switch (methodKind) {
    case "server_streaming":
      return "server_stream";
    case "client_streaming":
      return "client_stream";
    case "bidi_streaming":
      return "bidi_stream";
    default:
      return "unary";
  }
}

type RpcLabelSet = Record<"grpc_service" | "grpc_method" | "grpc_type", string>;

/** A method's labels, and the same with each gRPC code it has ended with. */
interface RpcLabels {
  readonly rpc: RpcLabelSet;
  readonly byCode: Map<string, RpcLabelSet & { grpc_code: string }>;
}

const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface SelfMetricsOptions {
  /** Process and Node.js runtime metrics (prom-client's collectDefaultMetrics); default true. */
  readonly processMetrics?: boolean;
}

/**
 * The service's own metrics, for GET /metrics on the admin port: per-RPC counters and latency
 * (go-grpc-prometheus's grpc_server_* names, so existing dashboards work), upstream request latency
 * by backend and outcome, Keystone token issues, the shared-query counts, the upstream query limit's
 * places and refusals, and process metrics. One
 * registry per app, so that several apps in one process (the tests) keep apart.
 */
export class SelfMetrics implements RpcCounter {
  readonly registry = new Registry();
  readonly #started: Counter<"grpc_service" | "grpc_method" | "grpc_type">;
  readonly #handled: Counter<"grpc_service" | "grpc_method" | "grpc_type" | "grpc_code">;
  readonly #handling: Histogram<"grpc_service" | "grpc_method" | "grpc_type">;
  readonly #upstream: Histogram<"backend" | "outcome">;
  readonly #authentications: Counter<"outcome">;
  readonly #renewals: Counter<"outcome">;
  readonly #rpcLabels = new Map<string, RpcLabels>();
  #sharedQueries: () => SharedQueryCounts | undefined = () => undefined;
  #upstreamLimit: () => UpstreamLimitCounts | undefined = () => undefined;

  constructor(options: SelfMetricsOptions = {}) {
    const registers = [this.registry];
    const rpcLabels = ["grpc_service", "grpc_method", "grpc_type"] as const;
    this.#started = new Counter({
      name: "grpc_server_started_total",
      help: "Total number of RPCs started on the server.",
      labelNames: rpcLabels,
      registers,
    });
    this.#handled = new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: [...rpcLabels, "grpc_code"],
      registers,
    });
    this.#handling = new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      labelNames: rpcLabels,
      buckets: RPC_BUCKETS,
      registers,
    });
    this.#upstream = new Histogram({
      name: "metrics_access_upstream_request_duration_seconds",
      help: "Duration of HTTP requests to the upstreams (headers and body), by backend (prometheus, aetos, keystone) and outcome (success, http_error, transport_error, cancelled).",
      labelNames: ["backend", "outcome"],
      buckets: RPC_BUCKETS,
      registers,
    });
    this.#authentications = new Counter({
      name: "metrics_access_keystone_authentications_total",
      help: "Keystone tokens issued while none was held (start-up, after a 401 or an expiry), by outcome (success, failure).",
      labelNames: ["outcome"],
      registers,
    });
    this.#renewals = new Counter({
      name: "metrics_access_keystone_renewals_total",
      help: "Keystone tokens issued to replace one near its expiry, by outcome (success, failure).",
      labelNames: ["outcome"],
      registers,
    });
    const sharedQueries = () => this.#sharedQueries();
    new Counter({
      name: "metrics_access_shared_queries_total",
      help: "Instant queries not sent upstream or sent for others too, by result: cache_hit (answered from the cache), cache_miss (cache on, sent upstream), coalesced (joined an identical query in flight).",
      labelNames: ["result"],
      registers,
      collect() {
        const counts = sharedQueries();
        if (counts === undefined) return;
        this.reset();
        this.inc({ result: "cache_hit" }, counts.cacheHits);
        this.inc({ result: "cache_miss" }, counts.cacheMisses);
        this.inc({ result: "coalesced" }, counts.coalesced);
      },
    });
    const upstreamLimit = () => this.#upstreamLimit();
    new Gauge({
      name: "metrics_access_upstream_queries_in_flight",
      help: "Upstream requests (queries, target lists, series names) holding a place under [metrics_access] max_concurrent_upstream_queries; readiness probes take none.",
      registers,
      collect() {
        const counts = upstreamLimit();
        if (counts !== undefined) this.set(counts.inFlight);
      },
    });
    new Gauge({
      name: "metrics_access_upstream_queries_waiting",
      help: "Calls waiting for a place under [metrics_access] max_concurrent_upstream_queries.",
      registers,
      collect() {
        const counts = upstreamLimit();
        if (counts !== undefined) this.set(counts.waiting);
      },
    });
    new Counter({
      name: "metrics_access_upstream_queries_refused_total",
      help: "Calls refused with RESOURCE_EXHAUSTED (UPSTREAM_QUERY_LIMIT): no place under max_concurrent_upstream_queries freed within upstream_queue_timeout or before their deadline.",
      registers,
      collect() {
        const counts = upstreamLimit();
        if (counts === undefined) return;
        this.reset();
        this.inc(counts.refused);
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  start(rpc: string, type: GrpcType): (code: string) => void {
    const labels = this.#labelsOf(rpc, type);
    this.#started.inc(labels.rpc);
    const started = performance.now();
    return (code) => {
      this.#handling.observe(labels.rpc, (performance.now() - started) / 1000);
      let handled = labels.byCode.get(code);
      if (handled === undefined) {
        handled = { ...labels.rpc, grpc_code: code };
        labels.byCode.set(code, handled);
      }
      this.#handled.inc(handled);
    };
  }

  /** The label sets of one method, made once: a call then allocates none. */
  #labelsOf(rpc: string, type: GrpcType): RpcLabels {
    const key = `${type} ${rpc}`;
    let labels = this.#rpcLabels.get(key);
    if (labels === undefined) {
      const slash = rpc.lastIndexOf("/");
      labels = {
        rpc: { grpc_service: rpc.slice(0, slash), grpc_method: rpc.slice(slash + 1), grpc_type: type },
        byCode: new Map(),
      };
      this.#rpcLabels.set(key, labels);
    }
    return labels;
  }

  /** An UpstreamObserver. */
  readonly upstream = (backend: Backend, outcome: UpstreamOutcome, seconds: number): void => {
    this.#upstream.observe({ backend, outcome }, seconds);
  };

  /** TokenSource's onIssued. */
  readonly tokenIssued = (kind: TokenIssueKind, ok: boolean): void => {
    (kind === "renewal" ? this.#renewals : this.#authentications).inc({
      outcome: ok ? "success" : "failure",
    });
  };

  /** Where the shared-query counts are read at every scrape. */
  sharedQueriesFrom(read: () => SharedQueryCounts): void {
    this.#sharedQueries = read;
  }

  /** Where the upstream query limit's state is read at every scrape. */
  upstreamLimitFrom(read: () => UpstreamLimitCounts): void {
    this.#upstreamLimit = read;
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
