import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { frameMessage, UnaryMessageReader } from "./grpc-frame.js";

const MESSAGE = Buffer.from("a protobuf message");

function refusal(run: () => unknown): ConnectError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error("expected a ConnectError");
}

/** Feeds `body` to a reader in pieces cut at `cuts`, then finishes it. */
function read(body: Buffer, cuts: readonly number[], maxBytes = 1024): Uint8Array {
  const reader = new UnaryMessageReader(maxBytes);
  let from = 0;
  for (const to of [...cuts, body.length]) {
    reader.push(body.subarray(from, to));
    from = to;
  }
  return reader.finish();
}

describe("UnaryMessageReader", () => {
  it("reads one message in one DATA frame", () => {
    expect(Buffer.from(read(frameMessage(MESSAGE), []))).toEqual(MESSAGE);
  });

  it("reads a message split across DATA frames, the prefix too, at every cut", () => {
    const frame = frameMessage(MESSAGE);
    for (let cut = 1; cut < frame.length; cut++) {
      expect(Buffer.from(read(frame, [cut])), `cut at ${cut}`).toEqual(MESSAGE);
    }
    expect(Buffer.from(read(frame, [1, 2, 3, 4, 5, 6]))).toEqual(MESSAGE);
  });

  it("reads an empty message (all fields default)", () => {
    expect(read(frameMessage(new Uint8Array(0)), []).length).toBe(0);
  });

  it("refuses a request without a message", () => {
    const err = refusal(() => new UnaryMessageReader(1024).finish());
    expect(err.code).toBe(Code.Unimplemented);
    expect(err.rawMessage).toContain("missing input message");
  });

  it("refuses a truncated frame: the prefix cut short, or fewer bytes than it promised", () => {
    const frame = frameMessage(MESSAGE);
    for (const length of [3, frame.length - 1]) {
      const err = refusal(() => read(frame.subarray(0, length), []));
      expect(err.code, `${length} bytes`).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain("incomplete envelope");
    }
  });

  it("refuses two messages in a unary request, as soon as the second begins", () => {
    const reader = new UnaryMessageReader(1024);
    reader.push(frameMessage(MESSAGE));
    const err = refusal(() => reader.push(frameMessage(MESSAGE).subarray(0, 1)));
    expect(err.code).toBe(Code.Unimplemented);
    expect(err.rawMessage).toContain("extra input message");
  });

  it("refuses an oversized message from its prefix, before the body arrives", () => {
    const reader = new UnaryMessageReader(10);
    const err = refusal(() => reader.push(frameMessage(Buffer.alloc(11)).subarray(0, 5)));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain("larger than configured readMaxBytes 10");
    // The limit itself is allowed.
    expect(read(frameMessage(Buffer.alloc(10)), [], 10).length).toBe(10);
  });

  it("refuses a compressed message (flag 1), and unknown flags", () => {
    for (const flags of [1, 0x80]) {
      const frame = frameMessage(MESSAGE);
      frame.writeUInt8(flags, 0);
      expect(refusal(() => read(frame, [])).code, `flags ${flags}`).toBe(Code.Internal);
    }
  });
});

describe("frameMessage", () => {
  it("prefixes flag 0 and the big-endian length", () => {
    const frame = frameMessage(Buffer.alloc(300, 7));
    expect([...frame.subarray(0, 5)]).toEqual([0, 0, 0, 1, 44]);
    expect(frame.length).toBe(305);
  });
});
