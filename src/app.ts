import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
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
import { withSpecGrpcMessage } from "./server/grpc-message.js";
import { HealthRegistry, healthService } from "./server/health.js";
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
  const shutdown = new AbortController();

  const handler = withSpecGrpcMessage(
    connectNodeAdapter({
      routes: (router) => {
        router.service(MetricsServiceDesc, metricsHandler(service));
        router.service(Health, healthService(health));
        registerReflection(router, [MetricsServiceDesc, Health]);
      },
      interceptors: [callInterceptor(logger)],
      shutdownSignal: shutdown.signal,
      readMaxBytes: MAX_REQUEST_BYTES,
      writeMaxBytes: MAX_RESPONSE_BYTES,
    }),
  );
  const transport = await listen({
    host: config.server.host,
    port: config.server.port,
    tls: config.server.tls,
    handler,
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
    const grace = setTimeout(() => {
      logger.warn(
        { graceMs: config.server.shutdownGraceMs },
        "grace period over: cancelling calls in flight",
      );
      shutdown.abort(new ConnectError("server shutting down", Code.Unavailable));
      transport.destroy();
    }, config.server.shutdownGraceMs);
    await transport.drain();
    clearTimeout(grace);
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
