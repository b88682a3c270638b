import { fromBinary } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { invalidArgument } from "../errors.js";
import { BadRequestSchema, ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { toConnectError } from "./error-status.js";
import { grpcStatusHeaders } from "./grpc-status.js";

describe("grpcStatusHeaders", () => {
  it("writes status, spec-encoded message, the error's metadata and ErrorInfo + BadRequest", () => {
    const status = toConnectError(invalidArgument("host", "required, 100% ü"), new AbortController().signal);
    const headers = grpcStatusHeaders(status);
    expect(headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(headers["grpc-message"]).toBe("host: required, 100%25 %C3%BC");
    expect(headers["x-error-reason"]).toBe("INVALID_FIELD");
    const bin = String(headers["grpc-status-details-bin"]);
    expect(bin).not.toMatch(/=$/);
    const decoded = fromBinary(StatusSchema, Buffer.from(bin, "base64"));
    expect(decoded).toMatchObject({ code: Code.InvalidArgument, message: "host: required, 100% ü" });
    const info = decoded.details.find((d) => anyIs(d, ErrorInfoSchema));
    const bad = decoded.details.find((d) => anyIs(d, BadRequestSchema));
    expect(info && anyUnpack(info, ErrorInfoSchema)?.reason).toBe("INVALID_FIELD");
    expect(bad && anyUnpack(bad, BadRequestSchema)?.fieldViolations[0]?.field).toBe("host");
  });

  it("leaves grpc-status-details-bin out when the error has no details", () => {
    const headers = grpcStatusHeaders(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    expect(headers).toEqual({ "grpc-status": "4", "grpc-message": "the operation timed out" });
  });
});
