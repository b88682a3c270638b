/**
 * A @grpc/grpc-js client for the service, independent of connect: grpc-js is Google's gRPC for
 * Node, so what it sees (grpc-status, grpc-message, headers, trailers, grpc-timeout) is what any
 * gRPC client sees. Messages are (de)serialised with protobuf-es and the generated schemas.
 */

import type { DescMethodUnary } from "@bufbuild/protobuf";
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

export { grpc };

/** What one unary call ended with: the response or the error, plus both kinds of metadata. */
export interface UnaryOutcome<O> {
  readonly response: O | undefined;
  readonly error: grpc.ServiceError | undefined;
  /** The status: code OK on success. */
  readonly code: grpc.status;
  /** grpc-message, as decoded by grpc-js ("OK" or "" on success). */
  readonly details: string;
  /** Response headers (empty for a trailers-only error response). */
  readonly headers: grpc.Metadata;
  /** Trailers. */
  readonly trailers: grpc.Metadata;
  /** Milliseconds from the call to its status. */
  readonly elapsedMs: number;
}

export interface UnaryOptions {
  /** Deadline in milliseconds from now (grpc-js sends it as grpc-timeout). */
  readonly timeoutMs?: number;
  /** Request metadata, e.g. { "x-request-id": "abc" }. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A plaintext channel, or TLS with `credentials`. */
export function grpcClient(target: string, credentials = grpc.credentials.createInsecure()): grpc.Client {
  return new grpc.Client(target, credentials);
}

/**
 * Calls `method` over `client` with grpc-js's own unary call machinery. Never rejects on a gRPC
 * error: the outcome carries the status, so tests can assert on codes and metadata alike.
 */
export function unary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  options: UnaryOptions = {},
): Promise<UnaryOutcome<MessageShape<O>>> {
  const path = `/${method.parent.typeName}/${method.name}`;
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  const callOptions: grpc.CallOptions =
    options.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
  const started = performance.now();
  return new Promise((resolve) => {
    let response: MessageShape<O> | undefined;
    let error: grpc.ServiceError | undefined;
    let headers = new grpc.Metadata();
    const call = client.makeUnaryRequest(
      path,
      (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
      (bytes: Buffer) => fromBinary(method.output, bytes),
      create(method.input, request),
      metadata,
      callOptions,
      (err, value) => {
        error = err ?? undefined;
        response = value;
      },
    );
    call.on("metadata", (md: grpc.Metadata) => {
      headers = md;
    });
    call.on("status", (status: grpc.StatusObject) => {
      // grpc-js runs the callback before it emits "status".
      resolve({
        response,
        error,
        code: status.code,
        details: status.details,
        headers,
        trailers: status.metadata,
        elapsedMs: performance.now() - started,
      });
    });
  });
}

/** The first value of `key` in the headers or, failing that, the trailers. */
export function metadataValue(outcome: UnaryOutcome<unknown>, key: string): string | undefined {
  const value = outcome.headers.get(key)[0] ?? outcome.trailers.get(key)[0];
  return value === undefined ? undefined : String(value);
}

/** Closes `client` (its channel and connections). */
export function closeClient(client: grpc.Client): void {
  client.close();
}
