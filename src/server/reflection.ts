import {
  create,
  type DescFile,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

type ResponseBody = NonNullable<
  MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"]
>;

/** Where every file, symbol and extension of the described schema is defined. */
interface SchemaIndex {
  readonly serviceNames: readonly string[];
  /** By proto file name, e.g. "google/protobuf/duration.proto". */
  readonly files: ReadonlyMap<string, DescFile>;
  /** By fully-qualified name of any declaration: type, field, oneof, enum value, service, method. */
  readonly symbols: ReadonlyMap<string, DescFile>;
  /** By extendee message type, then extension number; every known message type has an entry. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, DescFile>>;
}

/**
 * Mounts gRPC server reflection, grpc.reflection.v1 and grpc.reflection.v1alpha (which grpcui and
 * Postman still use), on `router`. It describes `services`, which should be every other service mounted
 * on the router, and the two reflection services themselves, with all the files they import.
 */
export function registerReflection(router: ConnectRouter, services: readonly DescService[]): ConnectRouter {
  const index = indexSchema([...services, v1.ServerReflection, v1alpha.ServerReflection]);
  return router
    .service(v1.ServerReflection, {
      serverReflectionInfo: (requests) => answerStream(index, requests),
    })
    .service(v1alpha.ServerReflection, {
      // v1alpha is v1 under another package name, the same on the wire: converting through the binary
      // form keeps a single implementation.
      serverReflectionInfo: (requests) =>
        transcode(
          v1.ServerReflectionResponseSchema,
          v1alpha.ServerReflectionResponseSchema,
          answerStream(
            index,
            transcode(v1alpha.ServerReflectionRequestSchema, v1.ServerReflectionRequestSchema, requests),
          ),
        ),
    });
}

function indexSchema(services: readonly DescService[]): SchemaIndex {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const extensions = new Map<string, Map<number, DescFile>>();
  const extensionsOf = (typeName: string): Map<number, DescFile> => {
    const numbers = extensions.get(typeName) ?? new Map<number, DescFile>();
    extensions.set(typeName, numbers);
    return numbers;
  };

  // Walks the descriptor that is sent rather than protobuf-es's view of it, which hides map entry
  // messages and synthetic oneofs; clients may ask for any name the descriptor declares.
  const add = (file: DescFile): void => {
    if (files.has(file.proto.name)) {
      return;
    }
    files.set(file.proto.name, file);
    file.dependencies.forEach(add);
    const define = (scope: string, name: string): string => {
      const fullName = scope === "" ? name : `${scope}.${name}`;
      symbols.set(fullName, file);
      return fullName;
    };
    const addEnums = (scope: string, enums: readonly EnumDescriptorProto[]): void => {
      for (const type of enums) {
        define(scope, type.name);
        // Enum values are siblings of their enum, not inside it (C++ scoping rules).
        for (const value of type.value) {
          define(scope, value.name);
        }
      }
    };
    const addExtensions = (scope: string, fields: readonly FieldDescriptorProto[]): void => {
      for (const field of fields) {
        define(scope, field.name);
        extensionsOf(field.extendee.replace(/^\./, "")).set(field.number, file);
      }
    };
    const addMessages = (scope: string, messages: readonly DescriptorProto[]): void => {
      for (const type of messages) {
        const typeName = define(scope, type.name);
        extensionsOf(typeName);
        for (const member of [...type.field, ...type.oneofDecl]) {
          define(typeName, member.name);
        }
        addEnums(typeName, type.enumType);
        addExtensions(typeName, type.extension);
        addMessages(typeName, type.nestedType);
      }
    };
    const { proto } = file;
    addMessages(proto.package, proto.messageType);
    addEnums(proto.package, proto.enumType);
    addExtensions(proto.package, proto.extension);
    for (const service of proto.service) {
      const serviceName = define(proto.package, service.name);
      for (const method of service.method) {
        define(serviceName, method.name);
      }
    }
  };

  for (const service of services) {
    add(service.file);
  }
  return { serviceNames: services.map((service) => service.typeName), files, symbols, extensions };
}

async function* answerStream(
  index: SchemaIndex,
  requests: AsyncIterable<v1.ServerReflectionRequest>,
): AsyncGenerator<v1.ServerReflectionResponse> {
  // Files already sent on this stream: the protocol lets the server skip them, and clients keep them.
  const sent = new Set<string>();
  for await (const request of requests) {
    yield create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: answer(index, request, sent),
    });
  }
}

function answer(index: SchemaIndex, request: v1.ServerReflectionRequest, sent: Set<string>): ResponseBody {
  const query = request.messageRequest;
  switch (query.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename":
      return fileAnswer(index.files.get(query.value), sent, `file "${query.value}"`);
    case "fileContainingSymbol":
      return fileAnswer(index.symbols.get(query.value), sent, `symbol "${query.value}"`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = query.value;
      const file = index.extensions.get(containingType)?.get(extensionNumber);
      return fileAnswer(file, sent, `extension ${extensionNumber} of "${containingType}"`);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensions.get(query.value);
      if (numbers === undefined) {
        return errorAnswer(Code.NotFound, `message type "${query.value}" not found`);
      }
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: query.value, extensionNumber: [...numbers.keys()] },
      };
    }
    case undefined:
      return errorAnswer(Code.InvalidArgument, "the request sets no message_request field");
  }
}

/**
 * Answers with `file` followed by the files it imports, transitively. The file asked for is sent even
 * if it was sent before (the client asked again); files it imports are not.
 */
function fileAnswer(file: DescFile | undefined, sent: Set<string>, what: string): ResponseBody {
  if (file === undefined) {
    return errorAnswer(Code.NotFound, `${what} not found`);
  }
  const descriptors: Uint8Array[] = [];
  const queue = [file];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (descriptors.length > 0 && sent.has(next.proto.name)) {
      continue;
    }
    sent.add(next.proto.name);
    // protobuf-es keeps the descriptor protoc produced (dependency list, ".pkg.Type" references),
    // which strict decoders such as Go's protodesc, under grpcurl and buf curl, require.
    descriptors.push(toBinary(FileDescriptorProtoSchema, next.proto));
    queue.push(...next.dependencies);
  }
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto: descriptors } };
}

function errorAnswer(code: Code, message: string): ResponseBody {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}

async function* transcode<From extends DescMessage, To extends DescMessage>(
  from: From,
  to: To,
  messages: AsyncIterable<MessageShape<From>>,
): AsyncGenerator<MessageShape<To>> {
  for await (const message of messages) {
    yield fromBinary(to, toBinary(from, message));
  }
}
