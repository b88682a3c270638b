import http2 from "node:http2";
import {
  create,
  createFileRegistry,
  type DescService,
  fromBinary,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_descriptor,
} from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { MetricsService } from "../gen/metricsaccess/v1/metrics_pb.js";
import { registerReflection } from "./reflection.js";

const METRICS_PROTO = "metricsaccess/v1/metrics.proto";
const DURATION_PROTO = "google/protobuf/duration.proto";
const TIMESTAMP_PROTO = "google/protobuf/timestamp.proto";
const HEALTH_PROTO = "grpc/health/v1/health.proto";
const EXTENSION_PROTO = "reflect/test/ext.proto";

/** A service whose file declares an extension: the project's own protos declare none. */
function extensionService(): DescService {
  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: EXTENSION_PROTO,
      package: "reflect.test",
      syntax: "proto3",
      dependency: ["google/protobuf/descriptor.proto"],
      messageType: [{ name: "Ping" }],
      service: [
        {
          name: "PingService",
          method: [{ name: "Ping", inputType: ".reflect.test.Ping", outputType: ".reflect.test.Ping" }],
        },
      ],
      extension: [
        {
          name: "note",
          number: 50001,
          type: FieldDescriptorProto_Type.STRING,
          extendee: ".google.protobuf.MessageOptions",
          jsonName: "note",
        },
      ],
    }),
    () => file_google_protobuf_descriptor,
  );
  const service = registry.getService("reflect.test.PingService");
  if (service === undefined) {
    throw new Error("the test schema has no PingService");
  }
  return service;
}

type Request = MessageInitShape<typeof v1.ServerReflectionRequestSchema>;

/** One ServerReflectionInfo stream, driven one request and one response at a time. */
function openStream(client: Client<typeof v1.ServerReflection>) {
  const requests: v1.ServerReflectionRequest[] = [];
  let wake: () => void = () => {};
  let closed = false;
  async function* input(): AsyncGenerator<v1.ServerReflectionRequest> {
    while (!closed) {
      const request = requests.shift();
      if (request === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      } else {
        yield request;
      }
    }
  }
  const responses = client.serverReflectionInfo(input())[Symbol.asyncIterator]();
  return {
    async ask(request: Request): Promise<v1.ServerReflectionResponse> {
      requests.push(create(v1.ServerReflectionRequestSchema, request));
      wake();
      const { value, done } = await responses.next();
      if (done === true) {
        throw new Error("the stream ended");
      }
      return value;
    },
    close(): void {
      closed = true;
      wake();
    },
  };
}

function fileNames(response: v1.ServerReflectionResponse): string[] {
  const answer = response.messageResponse;
  if (answer.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${answer.case}`);
  }
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe("gRPC server reflection", () => {
  const sessions = new Set<http2.ServerHttp2Session>();
  let server: http2.Http2Server;
  let transport: Transport;
  let client: Client<typeof v1.ServerReflection>;
  let stream: ReturnType<typeof openStream>;

  beforeAll(async () => {
    const pingService = extensionService();
    server = http2.createServer(
      connectNodeAdapter({
        routes: (router) => {
          router.service(MetricsService, {}).service(Health, {}).service(pingService, {});
          registerReflection(router, [MetricsService, Health, pingService]);
        },
      }),
    );
    server.on("session", (session) => sessions.add(session));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") {
      throw new Error("the server has no TCP address");
    }
    transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${address.port}` });
    client = createClient(v1.ServerReflection, transport);
    stream = openStream(client);
  });

  afterAll(async () => {
    stream.close();
    for (const session of sessions) {
      session.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });

  it("lists the services it was given and itself", async () => {
    const response = await stream.ask({ host: "h", messageRequest: { case: "listServices", value: "" } });
    expect(response.validHost).toBe("h");
    expect(response.originalRequest?.messageRequest.case).toBe("listServices");
    expect(response.messageResponse).toMatchObject({
      case: "listServicesResponse",
      value: {
        service: [
          { name: "metricsaccess.v1.MetricsService" },
          { name: "grpc.health.v1.Health" },
          { name: "reflect.test.PingService" },
          { name: "grpc.reflection.v1.ServerReflection" },
          { name: "grpc.reflection.v1alpha.ServerReflection" },
        ],
      },
    });
  });

  it("answers a symbol with its file and the files it imports, each once per stream", async () => {
    const first = await stream.ask({
      messageRequest: { case: "fileContainingSymbol", value: "metricsaccess.v1.MetricsService" },
    });
    expect(fileNames(first)).toEqual([METRICS_PROTO, DURATION_PROTO, TIMESTAMP_PROTO]);

    const again = await stream.ask({
      messageRequest: { case: "fileContainingSymbol", value: "metricsaccess.v1.GetHostMetricRequest" },
    });
    expect(fileNames(again)).toEqual([METRICS_PROTO]);

    const fresh = openStream(client);
    const onNewStream = await fresh.ask({ messageRequest: { case: "fileByFilename", value: METRICS_PROTO } });
    fresh.close();
    expect(fileNames(onNewStream)).toEqual([METRICS_PROTO, DURATION_PROTO, TIMESTAMP_PROTO]);
  });

  it("sends descriptors that a strict decoder can link into the same schema", async () => {
    const response = await openStream(client).ask({
      messageRequest: {
        case: "fileContainingSymbol",
        value: "metricsaccess.v1.MetricsService.GetHostMetric",
      },
    });
    if (response.messageResponse.case !== "fileDescriptorResponse") {
      throw new Error(`expected files, got ${response.messageResponse.case}`);
    }
    const files = response.messageResponse.value.fileDescriptorProto.map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    expect(files[0]?.dependency).toEqual([DURATION_PROTO, TIMESTAMP_PROTO]);
    const typeNames = files[0]?.messageType.flatMap((m) => m.field.map((f) => f.typeName)).filter(Boolean);
    expect(typeNames).toContain(".google.protobuf.Timestamp");
    expect(typeNames?.every((name) => name.startsWith("."))).toBe(true);

    // Linking fails on a missing import or an unresolved type name, as Go's protodesc does.
    const linked = createFileRegistry(create(FileDescriptorSetSchema, { file: files.toReversed() }));
    const method = linked.getService("metricsaccess.v1.MetricsService")?.methods[0];
    expect(method?.input.typeName).toBe("metricsaccess.v1.GetHostMetricRequest");
    expect(method?.input.fields.map((f) => f.message?.typeName).filter(Boolean)).toEqual(
      MetricsService.method.getHostMetric.input.fields.map((f) => f.message?.typeName).filter(Boolean),
    );
  });

  it.each([
    ["a method", "metricsaccess.v1.MetricsService.GetHostMetric", METRICS_PROTO],
    ["a message", "metricsaccess.v1.GetHostMetricResponse", METRICS_PROTO],
    ["a field", "metricsaccess.v1.GetHostMetricRequest.host", METRICS_PROTO],
    ["an enum", "metricsaccess.v1.TargetHealth", METRICS_PROTO],
    ["an enum value", "metricsaccess.v1.TARGET_HEALTH_UP", METRICS_PROTO],
    ["a nested enum", "grpc.health.v1.HealthCheckResponse.ServingStatus", HEALTH_PROTO],
    ["a nested enum value", "grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", HEALTH_PROTO],
    ["a map entry message", "grpc.health.v1.HealthListResponse.StatusesEntry", HEALTH_PROTO],
    ["an extension", "reflect.test.note", EXTENSION_PROTO],
    ["an imported type", "google.protobuf.Duration", DURATION_PROTO],
  ])("finds the file of %s", async (_kind, symbol, file) => {
    const response = await stream.ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } });
    expect(fileNames(response)[0]).toBe(file);
  });

  it("answers extension queries", async () => {
    const byNumber = await openStream(client).ask({
      messageRequest: {
        case: "fileContainingExtension",
        value: { containingType: "google.protobuf.MessageOptions", extensionNumber: 50001 },
      },
    });
    expect(fileNames(byNumber)).toEqual([EXTENSION_PROTO, "google/protobuf/descriptor.proto"]);

    const numbers = await stream.ask({
      messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MessageOptions" },
    });
    expect(numbers.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.MessageOptions", extensionNumber: [50001] },
    });

    const none = await stream.ask({
      messageRequest: { case: "allExtensionNumbersOfType", value: "metricsaccess.v1.GetHostMetricRequest" },
    });
    expect(none.messageResponse).toMatchObject({ value: { extensionNumber: [] } });
  });

  it.each<[string, Request, Code]>([
    [
      "an unknown symbol",
      { messageRequest: { case: "fileContainingSymbol", value: "no.Such" } },
      Code.NotFound,
    ],
    [
      "an unknown file",
      { messageRequest: { case: "fileByFilename", value: "no/such.proto" } },
      Code.NotFound,
    ],
    [
      "an unknown extension",
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "google.protobuf.MessageOptions", extensionNumber: 1 },
        },
      },
      Code.NotFound,
    ],
    [
      "the extensions of an unknown type",
      { messageRequest: { case: "allExtensionNumbersOfType", value: "x.Y" } },
      Code.NotFound,
    ],
    ["an empty request", {}, Code.InvalidArgument],
  ])("answers %s with an error response and keeps the stream open", async (_what, request, code) => {
    const response = await stream.ask(request);
    expect(response.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: code } });
    const next = await stream.ask({ messageRequest: { case: "listServices", value: "" } });
    expect(next.messageResponse.case).toBe("listServicesResponse");
  });

  it("answers the same over v1alpha", async () => {
    const alpha = createClient(v1alpha.ServerReflection, transport);
    type Query = MessageInitShape<typeof v1alpha.ServerReflectionRequestSchema>["messageRequest"];
    async function* requests(...queries: NonNullable<Query>[]) {
      for (const messageRequest of queries) {
        yield create(v1alpha.ServerReflectionRequestSchema, { messageRequest });
      }
    }
    const responses: v1alpha.ServerReflectionResponse[] = [];
    for await (const response of alpha.serverReflectionInfo(
      requests(
        { case: "listServices", value: "" },
        { case: "fileContainingSymbol", value: "metricsaccess.v1.MetricsService" },
        { case: "fileContainingSymbol", value: "metricsaccess.v1.ListHostsRequest" },
        { case: "fileContainingSymbol", value: "no.Such" },
      ),
    )) {
      responses.push(response);
    }
    expect(responses.map((r) => r.$typeName)).toEqual(
      Array(4).fill("grpc.reflection.v1alpha.ServerReflectionResponse"),
    );
    expect(responses[0]?.messageResponse.case).toBe("listServicesResponse");
    expect(responses[1]?.originalRequest?.messageRequest).toEqual({
      case: "fileContainingSymbol",
      value: "metricsaccess.v1.MetricsService",
    });
    const names = responses
      .slice(1, 3)
      .map((r) =>
        r.messageResponse.case === "fileDescriptorResponse"
          ? r.messageResponse.value.fileDescriptorProto.map(
              (b) => fromBinary(FileDescriptorProtoSchema, b).name,
            )
          : [],
      );
    expect(names).toEqual([[METRICS_PROTO, DURATION_PROTO, TIMESTAMP_PROTO], [METRICS_PROTO]]);
    expect(responses[3]?.messageResponse).toMatchObject({
      case: "errorResponse",
      value: { errorCode: Code.NotFound },
    });
  });
});
