import { describe, expect, it } from "vitest";
import { encodeGrpcMessage } from "./grpc-message.js";

describe("encodeGrpcMessage", () => {
  it("leaves printable ASCII alone, so decodeURI (grpc-js) gives the message back", () => {
    const message = 'host: required; a, b/c?d@e&f=g+h$i#j "k"';
    expect(encodeGrpcMessage(message)).toBe(message);
    expect(decodeURI(encodeGrpcMessage(message))).toBe(message);
  });

  it("escapes percent signs, control characters and non-ASCII as UTF-8 bytes", () => {
    expect(encodeGrpcMessage("100%\nné")).toBe("100%25%0An%C3%A9");
    expect(decodeURIComponent(encodeGrpcMessage("100%\nné"))).toBe("100%\nné");
  });
});
