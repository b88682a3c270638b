import { Code, ConnectError } from "@connectrpc/connect";
import { setUpCallerAuth } from "./caller-auth-setup.js";
import { formatListenAddress } from "./config/listen-address.js";
import type { Config } from "./config/types.js";
import { BackendCheck } from "./datasource/backend-check.js";
import { createDatasource } from "./datasource/create.js";
import type { Datasource } from "./datasource/datasource.js";
import { SharedQueries } from "./datasource/shared-queries.js";
import { UpstreamLimit } from "./datasource/upstream-limit.js";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";
import { MetricsService as MetricsServiceDesc } from "./gen/metricsaccess/v1/metrics_pb.js";
import type { Logger } from "./log.js";
import { Catalogue } from "./metrics/catalogue.js";
import { HostDirectory } from "./metrics/hosts.js";
import { SeriesNames } from "./metrics/series-names.js";
import { MetricsService } from "./metrics/service.js";
import { type AdminServer, listenAdmin } from "./server/admin.js";
import { requireCaller } from "./server/caller-auth.js";
import { connectFallback } from "./server/connect-fallback.js";
import { grpcUnaryFastPath, unaryRoutes } from "./server/grpc-unary.js";
import { HealthRegistry, healthService } from "./server/health.js";
import { InFlightCalls } from "./server/in-flight.js";
import { callInterceptor } from "./server/interceptors.js";
import { metricsHandler } from "./server/metrics-handler.js";
import { Readiness } from "./server/readiness.js";
import { registerReflection } from "./server/reflection.js";
import { SelfMetrics } from "./server/self-metrics.js";
import { listen } from "./server/transport.js";
import { encodeUtf8WithBuffer } from "./server/utf8.js";

export interface RunningApp {
  readonly port: number;
  /** The admin port (healthz, readyz, metrics); undefined when admin_listen is empty. */
  readonly adminPort: number | undefined;
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

/**
 * The use cases over a datasource: host directory, series names and catalogue as the server uses
 * them (check-config runs its queries through the same wiring).
 */
export function metricsServiceOver(datasource: Datasource, config: Config, logger: Logger): MetricsService {
  const hosts = new HostDirectory({
    label: datasource.labels.fqdn,
    loadTargets: (options) => datasource.activeTargets(options),
    minRefreshIntervalMs: config.server.targetRefreshIntervalMs,
    onBackgroundFailure: (err) =>
      logger.warn({ err }, "target list refresh failed: ListHosts serves the last list until one succeeds"),
  });
  const seriesNames = new SeriesNames({
    load: (options) => datasource.seriesNames(options),
    maxAgeMs: config.server.seriesRefreshIntervalMs,
  });
  return new MetricsService({ datasource, hosts, catalogue: new Catalogue(config.metrics), seriesNames });
}

/**
 * Wires config → datasource → host directory → metrics service → handlers → one listening port,
 * and beside it the admin port (health, readiness, self-metrics).
 */
export async function startApp(config: Config, logger: Logger): Promise<RunningApp> {
  encodeUtf8WithBuffer();
  const selfMetrics = new SelfMetrics();
  const forwardCallerToken = config.datasource.kind === "aetos" && config.datasource.forwardCallerToken;
  const callerAuth = await setUpCallerAuth(
    config.server.callerAuth,
    forwardCallerToken,
    logger,
    selfMetrics.upstream,
  );
  const upstream = await createDatasource(config.datasource, logger, {
    observe: selfMetrics.upstream,
    onTokenIssued: selfMetrics.tokenIssued,
  }).catch(async (err: unknown) => {
    await callerAuth.close();
    throw err;
  });
  // Below the sharing: coalesced and cached answers send nothing, so they take no place.
  const limited = new UpstreamLimit(upstream, {
    maxInFlight: config.server.maxConcurrentUpstreamQueries,
    queueTimeoutMs: config.server.upstreamQueueTimeoutMs,
  });
  selfMetrics.upstreamLimitFrom(() => limited.counts);
  const datasource = new SharedQueries(limited, { cacheTtlMs: config.server.queryCacheTtlMs });
  selfMetrics.sharedQueriesFrom(() => datasource.counts);
  const service = metricsServiceOver(datasource, config, logger);
  const health = new HealthRegistry();
  // Once ready: is it Prometheus? A warning names docs/backends.md when it is not.
  const backendCheck = new BackendCheck(config.datasource, logger);
  // The gRPC health service and /readyz follow the same probe, and change at the same moment.
  const readiness = new Readiness({
    probe: (signal) => datasource.probe({ signal }),
    intervalMs: config.server.readinessIntervalMs,
    timeoutMs: Math.max(1000, config.server.readinessIntervalMs),
    onChange(ready, err) {
      const status = ready
        ? HealthCheckResponse_ServingStatus.SERVING
        : HealthCheckResponse_ServingStatus.NOT_SERVING;
      health.setStatus("", status);
      health.setStatus(MetricsServiceDesc.typeName, status);
      if (ready) {
        logger.info({ datasource: datasource.name }, "ready: the upstream answers");
        void backendCheck.check();
      } else logger.warn({ err, datasource: datasource.name }, "not ready: the upstream does not answer");
    },
  });
  await readiness.start();
  const calls = new InFlightCalls();
  const handler = metricsHandler(service, { forwardCallerToken });
  // Health and reflection stay open: probes and debugging tools carry no caller credentials.
  const metrics =
    callerAuth.authenticator === undefined
      ? handler
      : requireCaller(MetricsServiceDesc, handler, callerAuth.authenticator);
  const healthImpl = healthService(health);

  // Two ways in, one set of implementations: unary binary gRPC is served by the fast path, the
  // rest by connect (docs/design.md, "The way a request travels").
  const connect = connectFallback({
    routes: (router) => {
      router.service(MetricsServiceDesc, metrics);
      router.service(Health, healthImpl);
      registerReflection(router, [MetricsServiceDesc, Health]);
    },
    interceptors: [callInterceptor(logger, selfMetrics)],
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
    counter: selfMetrics,
    fallback: connect.stream,
  });
  const transport = await listen({
    listen: config.server.listen,
    tls: config.server.tls,
    tlsReloadIntervalMs: config.server.tlsReloadIntervalMs,
    logger,
    onStream,
    onRequest: connect.request,
  }).catch(async (err: unknown) => {
    readiness.stop();
    await Promise.all([datasource.close(), callerAuth.close()]);
    throw err;
  });
  logger.info(
    {
      listen: formatListenAddress(transport.address),
      tls: config.server.tls !== undefined,
      datasource: datasource.name,
    },
    "serving gRPC, gRPC-Web and Connect",
  );
  if (config.server.unauthenticatedNetwork) {
    logger.warn(
      { listen: formatListenAddress(transport.address) },
      "serving beyond loopback without caller authentication (allow_unauthenticated_network = true): every caller reads with the service's own credentials",
    );
  }
  let stopping = false;
  let admin: AdminServer | undefined;
  if (config.server.admin) {
    admin = await listenAdmin({
      ...config.server.admin,
      ready: () => !stopping && readiness.ready,
      metrics: () => selfMetrics.scrape(),
    }).catch(async (err: unknown) => {
      readiness.stop();
      transport.destroy();
      await Promise.all([transport.drain(), datasource.close(), callerAuth.close()]);
      throw err;
    });
    // Not under "listen": that field names the gRPC port (scripts and tests read it).
    logger.info(
      { admin: `${config.server.admin.host}:${admin.port}` },
      "serving /healthz, /readyz and /metrics",
    );
  }

  let stopped: Promise<void> | undefined;
  const stop = async () => {
    stopping = true;
    readiness.stop();
    backendCheck.close();
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
    // /metrics shows them while the service runs; the last log line keeps the final counts.
    await admin?.close();
    logger.info(
      { sharedQueries: datasource.counts },
      "upstream queries shared (coalesced, cache hits and misses)",
    );
    await Promise.all([datasource.close(), callerAuth.close()]);
  };
  return {
    port: transport.port,
    adminPort: admin?.port,
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}
