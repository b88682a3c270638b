import { describe, expect, it } from "vitest";
import { grpcType, SelfMetrics } from "./self-metrics.js";

describe("SelfMetrics", () => {
  it("counts RPCs under go-grpc-prometheus's names", async () => {
    const metrics = new SelfMetrics({ processMetrics: false });
    metrics.start("metricsaccess.v1.MetricsService/GetHostMetric", "unary")("OK");
    metrics.start("metricsaccess.v1.MetricsService/GetHostMetric", "unary")("NotFound");
    metrics.start("grpc.health.v1.Health/Watch", grpcType("server_streaming"));
    const { body } = await metrics.scrape();
    const labels =
      'grpc_service="metricsaccess.v1.MetricsService",grpc_method="GetHostMetric",grpc_type="unary"';
    expect(body).toContain(`grpc_server_started_total{${labels}} 2`);
    expect(body).toContain(`grpc_server_handled_total{${labels},grpc_code="OK"} 1`);
    expect(body).toContain(`grpc_server_handled_total{${labels},grpc_code="NotFound"} 1`);
    expect(body).toContain(`grpc_server_handling_seconds_count{${labels}} 2`);
    expect(body).toContain(
      'grpc_server_started_total{grpc_service="grpc.health.v1.Health",grpc_method="Watch",grpc_type="server_stream"} 1',
    );
  });

  it("records upstream latency, Keystone issues and the shared-query counts read at scrape time", async () => {
    const metrics = new SelfMetrics({ processMetrics: false });
    metrics.upstream("aetos", "success", 0.02);
    metrics.upstream("keystone", "transport_error", 1);
    metrics.tokenIssued("authentication", true);
    metrics.tokenIssued("renewal", false);
    let counts = { cacheHits: 1, cacheMisses: 2, coalesced: 3 };
    metrics.sharedQueriesFrom(() => counts);
    let { body } = await metrics.scrape();
    expect(body).toContain(
      'metrics_access_upstream_request_duration_seconds_count{backend="aetos",outcome="success"} 1',
    );
    expect(body).toContain(
      'metrics_access_upstream_request_duration_seconds_bucket{le="1",backend="keystone",outcome="transport_error"} 1',
    );
    expect(body).toContain('metrics_access_keystone_authentications_total{outcome="success"} 1');
    expect(body).toContain('metrics_access_keystone_renewals_total{outcome="failure"} 1');
    expect(body).toContain('metrics_access_shared_queries_total{result="coalesced"} 3');
    counts = { cacheHits: 5, cacheMisses: 2, coalesced: 3 };
    ({ body } = await metrics.scrape());
    expect(body).toContain('metrics_access_shared_queries_total{result="cache_hit"} 5');
    expect(body).not.toContain("process_cpu_seconds_total");
  });

  it("shows the upstream query limit's places, waiting calls and refusals read at scrape time", async () => {
    const metrics = new SelfMetrics({ processMetrics: false });
    let counts = { inFlight: 64, waiting: 3, refused: 2 };
    metrics.upstreamLimitFrom(() => counts);
    let { body } = await metrics.scrape();
    expect(body).toContain("# TYPE metrics_access_upstream_queries_in_flight gauge");
    expect(body).toContain("metrics_access_upstream_queries_in_flight 64");
    expect(body).toContain("metrics_access_upstream_queries_waiting 3");
    expect(body).toContain("# TYPE metrics_access_upstream_queries_refused_total counter");
    expect(body).toContain("metrics_access_upstream_queries_refused_total 2");
    counts = { inFlight: 1, waiting: 0, refused: 7 };
    ({ body } = await metrics.scrape());
    expect(body).toContain("metrics_access_upstream_queries_in_flight 1");
    expect(body).toContain("metrics_access_upstream_queries_waiting 0");
    expect(body).toContain("metrics_access_upstream_queries_refused_total 7");
  });

  it("adds the process metrics by default", async () => {
    const { body } = await new SelfMetrics().scrape();
    expect(body).toContain("process_cpu_seconds_total");
    expect(body).toContain("nodejs_eventloop_lag_seconds");
  });
});
