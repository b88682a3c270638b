import type { OutgoingHttpHeaders } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { encodeGrpcMessage } from "./grpc-message.js";

/**
 * The gRPC status fields of `err`, as connect writes them (its setTrailerStatus): the error's
 * metadata first, then grpc-status, grpc-message (spelled the spec's way, see grpc-message.ts) and,
 * when the error carries details (ErrorInfo, BadRequest), grpc-status-details-bin: a
 * google.rpc.Status in unpadded base64.
 */
export function grpcStatusHeaders(err: ConnectError): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  err.metadata.forEach((value, key) => {
    headers[key] = value;
  });
  headers["grpc-status"] = String(err.code);
  headers["grpc-message"] = encodeGrpcMessage(err.rawMessage);
  if (err.details.length > 0) {
    const status = create(StatusSchema, {
      code: err.code,
      message: err.rawMessage,
      details: err.details.map((detail) =>
        "desc" in detail
          ? anyPack(detail.desc, create(detail.desc, detail.value))
          : { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value },
      ),
    });
    headers["grpc-status-details-bin"] = Buffer.from(toBinary(StatusSchema, status))
      .toString("base64")
      .replace(/=+$/, "");
  }
  return headers;
}
