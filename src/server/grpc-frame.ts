import { Code, ConnectError } from "@connectrpc/connect";

/** A gRPC length-prefixed message: one flags byte, a 4-byte big-endian length, the message. */
const PREFIX_BYTES = 5;
const FLAG_COMPRESSED = 0x01;

/**
 * Collects the DATA of a unary gRPC request, however HTTP/2 split it into frames, and checks it is
 * exactly one uncompressed message of at most `maxBytes`. Errors are the statuses connect gives the
 * same faults, thrown as soon as a chunk shows them, so that an oversized or overlong request is
 * refused without being buffered.
 */
export class UnaryMessageReader {
  readonly #maxBytes: number;
  readonly #chunks: Buffer[] = [];
  #received = 0;
  #declared: number | undefined;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Takes the next piece of the request body. Throws a ConnectError when the request is refused. */
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#received += chunk.length;
    if (this.#declared === undefined && this.#received >= PREFIX_BYTES) {
      this.#declared = this.#readPrefix();
    }
    if (this.#declared !== undefined && this.#received > PREFIX_BYTES + this.#declared) {
      throw new ConnectError(
        "protocol error: received extra input message for unary method",
        Code.Unimplemented,
      );
    }
  }

  /** The message, once the request has ended. Throws a ConnectError when it is missing or cut short. */
  finish(): Uint8Array {
    if (this.#received === 0) {
      throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
    }
    if (this.#declared === undefined || this.#received < PREFIX_BYTES + this.#declared) {
      throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    }
    const body = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
    return body.subarray(PREFIX_BYTES);
  }

  #readPrefix(): number {
    const prefix = Buffer.concat(this.#chunks, PREFIX_BYTES);
    const flags = prefix.readUInt8(0);
    const length = prefix.readUInt32BE(1);
    if (flags & FLAG_COMPRESSED) {
      // Only requests without grpc-encoding (or identity) come here; compressed ones go to connect.
      throw new ConnectError("protocol error: compressed message without grpc-encoding", Code.Internal);
    }
    if (flags !== 0) {
      throw new ConnectError(`protocol error: unexpected message flags ${flags}`, Code.Internal);
    }
    if (length > this.#maxBytes) {
      throw new ConnectError(
        `message size ${length} is larger than configured readMaxBytes ${this.#maxBytes}`,
        Code.ResourceExhausted,
      );
    }
    return length;
  }
}

/** `message` as one uncompressed gRPC length-prefixed message. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}
