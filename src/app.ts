import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "./config/types.js";
import { createDatasource } from "./datasource/create.js";
import { SharedQueries } from "./datasource/shared-queries.js";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";
import { MetricsService as MetricsServiceDesc } from "./gen/metricsaccess/v1/metrics_pb.js";
import type { Logger } from "./log.js";
import { Catalogue } from "./metrics/catalogue.js";
import { HostDirectory } from "./metrics/hosts.js";
import { SeriesNames } from "./metrics/series-names.js";
import { MetricsService } from "./metrics/service.js";
import { connectFallback } from "./server/connect-fallback.js";
import { grpcUnaryFastPath, unaryRoutes } from "./server/grpc-unary.js";
import { HealthRegistry, healthService } from "./server/health.js";
import { InFlightCalls } from "./server/in-flight.js";
import { callInterceptor } from "./server/interceptors.js";
import { metricsHandler } from "./server/metrics-handler.js";
import { registerReflection } from "./server/reflection.js";
import { listen } from "./server/transport.js";

export interface RunningApp {
  readonly port: number;
  /**
   * Graceful stop: health goes NOT_SERVING, no new connections, calls in flight get the grace
   * period, then are cancelled; the upstream pools close last.
   */
  stop(): Promise<void>;
}

const MAX_REQUEST_BYTES = 1024 * 1024;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** How long the UNAVAILABLE answers of cancelled calls get to leave before connections are cut. */
const CANCELLED_FLUSH_MS = 250;

/** Wires config → datasource → host directory → metrics service → handlers → one listening port. */
export async function startApp(config: Config, logger: Logger): Promise<RunningApp> {
  const datasource = new SharedQueries(await createDatasource(config.datasource, logger), {
    cacheTtlMs: config.server.queryCacheTtlMs,
  });
  const hosts = new HostDirectory({
    label: datasource.labels.fqdn,
    loadTargets: (options) => datasource.activeTargets(options),
    minRefreshIntervalMs: config.server.targetRefreshIntervalMs,
  });
  const seriesNames = new SeriesNames({
    load: (options) => datasource.seriesNames(options),
    maxAgeMs: config.server.seriesRefreshIntervalMs,
  });
  const catalogue = new Catalogue(config.metrics);
  const service = new MetricsService({ datasource, hosts, catalogue, seriesNames });
  const health = new HealthRegistry();
  health.setStatus(MetricsServiceDesc.typeName, HealthCheckResponse_ServingStatus.SERVING);
  const calls = new InFlightCalls();
  const metrics = metricsHandler(service);
  const healthImpl = healthService(health);

  // Two ways in, one set of implementations: unary binary gRPC is served by the fast path, the
  // rest by connect (docs/design.md, "The way a request travels").
  const connect = connectFallback({
    routes: (router) => {
      router.service(MetricsServiceDesc, metrics);
      router.service(Health, healthImpl);
      registerReflection(router, [MetricsServiceDesc, Health]);
    },
    interceptors: [callInterceptor(logger)],
    readMaxBytes: MAX_REQUEST_BYTES,
    writeMaxBytes: MAX_RESPONSE_BYTES,
    calls,
  });
  const onStream = grpcUnaryFastPath({
    logger,
    routes: [...unaryRoutes(MetricsServiceDesc, metrics), ...unaryRoutes(Health, healthImpl)],
    readMaxBytes: MAX_REQUEST_BYTES,
    writeMaxBytes: MAX_RESPONSE_BYTES,
    calls,
    fallback: connect.stream,
  });
  const transport = await listen({
    host: config.server.host,
    port: config.server.port,
    tls: config.server.tls,
    onStream,
    onRequest: connect.request,
  }).catch(async (err: unknown) => {
    await datasource.close();
    throw err;
  });
  logger.info(
    {
      listen: `${config.server.host}:${transport.port}`,
      tls: config.server.tls !== undefined,
      datasource: datasource.name,
    },
    "serving gRPC, gRPC-Web and Connect",
  );

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    health.shutdown();
    let hardStop: NodeJS.Timeout | undefined;
    const grace = setTimeout(() => {
      logger.warn(
        { graceMs: config.server.shutdownGraceMs, calls: calls.size },
        "grace period over: cancelling calls in flight",
      );
      // Each call answers UNAVAILABLE at once and its connection then closes by itself (the
      // sessions were told to close when draining began); what is still open a moment later (a
      // stream whose client keeps it open) is cut.
      calls.cancelAll(new ConnectError("server shutting down", Code.Unavailable));
      hardStop = setTimeout(() => transport.destroy(), CANCELLED_FLUSH_MS);
    }, config.server.shutdownGraceMs);
    await transport.drain();
    clearTimeout(grace);
    clearTimeout(hardStop);
    // Until the self-metrics endpoint exists, the one place these counts show is the last log line.
    logger.info(
      { sharedQueries: datasource.counts },
      "upstream queries shared (coalesced, cache hits and misses)",
    );
    await datasource.close();
  };
  return {
    port: transport.port,
    stop() {
      stopping ??= stop();
      return stopping;
    },
  };
}
