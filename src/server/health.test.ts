import http2 from "node:http2";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { HealthRegistry, healthService } from "./health.js";

const METRICS = "metricsaccess.v1.MetricsService";

describe("HealthRegistry", () => {
  it("starts with the whole server SERVING and nothing else", () => {
    const registry = new HealthRegistry();
    expect(registry.entries()).toEqual([["", Status.SERVING]]);
    expect(registry.status(METRICS)).toBeUndefined();
  });

  it("marks everything NOT_SERVING on shutdown and then ignores setStatus", () => {
    const registry = new HealthRegistry();
    registry.setStatus(METRICS, Status.SERVING);
    registry.shutdown();
    registry.setStatus(METRICS, Status.SERVING);
    expect(registry.entries()).toEqual([
      ["", Status.NOT_SERVING],
      [METRICS, Status.NOT_SERVING],
    ]);
  });

  it("ends watch when the signal aborts", async () => {
    const registry = new HealthRegistry();
    const controller = new AbortController();
    const watch = registry.watch("", controller.signal);
    expect(await watch.next()).toEqual({ done: false, value: Status.SERVING });
    const pending = watch.next();
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it("reports only the latest of changes made while the consumer is busy", async () => {
    const registry = new HealthRegistry();
    const watch = registry.watch(METRICS, new AbortController().signal);
    expect(await watch.next()).toEqual({ done: false, value: Status.SERVICE_UNKNOWN });
    registry.setStatus(METRICS, Status.NOT_SERVING);
    registry.setStatus(METRICS, Status.SERVING);
    expect(await watch.next()).toEqual({ done: false, value: Status.SERVING });
  });
});

describe("grpc.health.v1.Health over gRPC", () => {
  const sessions = new Set<http2.ServerHttp2Session>();
  let registry: HealthRegistry;
  let server: http2.Http2Server;
  let client: Client<typeof Health>;

  beforeAll(async () => {
    registry = new HealthRegistry();
    registry.setStatus(METRICS, Status.SERVING);
    server = http2.createServer(
      connectNodeAdapter({ routes: (router) => router.service(Health, healthService(registry)) }),
    );
    server.on("session", (session) => sessions.add(session));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") {
      throw new Error("the server has no TCP address");
    }
    client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${address.port}` }));
  });

  afterAll(async () => {
    for (const session of sessions) {
      session.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });

  it("answers Check for the whole server and for a named service", async () => {
    expect((await client.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await client.check({ service: METRICS })).status).toBe(Status.SERVING);
  });

  it("answers Check for an unknown service with NOT_FOUND", async () => {
    const error = await client.check({ service: "no.such.Service" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(ConnectError.from(error).code).toBe(Code.NotFound);
  });

  it("lists every service with its status", async () => {
    const { statuses } = await client.list({});
    expect(Object.fromEntries(Object.entries(statuses).map(([name, value]) => [name, value.status]))).toEqual(
      {
        "": Status.SERVING,
        [METRICS]: Status.SERVING,
      },
    );
  });

  it("streams the current status on Watch, then every change", async () => {
    const controller = new AbortController();
    const stream = client.watch({ service: "later.Service" }, { signal: controller.signal });
    const responses = stream[Symbol.asyncIterator]();
    expect((await responses.next()).value?.status).toBe(Status.SERVICE_UNKNOWN);
    registry.setStatus("later.Service", Status.SERVING);
    expect((await responses.next()).value?.status).toBe(Status.SERVING);
    registry.setStatus("later.Service", Status.NOT_SERVING);
    expect((await responses.next()).value?.status).toBe(Status.NOT_SERVING);
    controller.abort();
    await expect(responses.next()).rejects.toMatchObject({ code: Code.Canceled });
  });

  // Last: it shuts the shared registry down.
  it("sends NOT_SERVING to watchers on shutdown and ends their streams", async () => {
    const received: Status[] = [];
    const watching = (async () => {
      for await (const response of client.watch({ service: METRICS })) {
        received.push(response.status);
        if (received.length === 1) {
          registry.shutdown();
        }
      }
    })();
    await watching;
    expect(received).toEqual([Status.SERVING, Status.NOT_SERVING]);
    expect((await client.check({ service: "" })).status).toBe(Status.NOT_SERVING);
  });
});
