import { randomUUID } from "node:crypto";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "../log.js";
import { isServerFault, toConnectError } from "./error-status.js";
import { type GrpcType, grpcType, type RpcCounter } from "./self-metrics.js";

export const REQUEST_ID_HEADER = "x-request-id";
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's x-request-id when it is sane (fit for a log line), else a new uuid. */
export function requestIdFor(offered: string | null | undefined): string {
  return offered && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
}

/** The access log of one call: exactly one line, written when the call ends. */
export interface CallLog {
  ok(): void;
  /** `status` is what the caller gets (from toConnectError); `err` what was thrown, for server faults. */
  failed(status: ConnectError, err: unknown): void;
}

/**
 * Starts the access log of one call, shared by the gRPC unary fast path and connect's interceptor so
 * that every call has the same line: requestId, rpc ("package.Service/Method"), code, durationMs;
 * and, with `counter`, the same self-metrics (grpc_server_started_total and the rest).
 */
export function startCallLog(
  logger: Logger,
  requestId: string,
  rpc: string,
  counter?: RpcCounter,
  type: GrpcType = "unary",
): CallLog {
  const started = performance.now();
  const handled = counter?.start(rpc, type);
  return {
    ok() {
      handled?.("OK");
      logger.info({ requestId, rpc, code: "ok", durationMs: elapsed(started) }, "call");
    },
    failed(status, err) {
      handled?.(Code[status.code]);
      const fields = { requestId, rpc, code: codeToString(status.code), durationMs: elapsed(started) };
      // A server fault needs its cause and stack; a refused request only what was wrong with it.
      if (isServerFault(status.code)) logger.error({ ...fields, err }, "call failed");
      else
        logger.info(
          { ...fields, reason: status.metadata.get("x-error-reason"), message: status.rawMessage },
          "call refused",
        );
    },
  };
}

/**
 * For calls connect serves (streams, Connect, gRPC-Web, compressed gRPC): gives every call a request
 * id, echoes it in the response headers, writes the access-log line, and maps every error to a gRPC
 * status through toConnectError.
 */
export function callInterceptor(logger: Logger, counter?: RpcCounter): Interceptor {
  return (next) => async (req) => {
    const requestId = requestIdFor(req.header.get(REQUEST_ID_HEADER));
    const log = startCallLog(
      logger,
      requestId,
      `${req.service.typeName}/${req.method.name}`,
      counter,
      grpcType(req.method.methodKind),
    );
    try {
      const res = await next(req);
      res.header.set(REQUEST_ID_HEADER, requestId);
      log.ok();
      return res;
    } catch (err) {
      const status = toConnectError(err, req.signal);
      status.metadata.set(REQUEST_ID_HEADER, requestId);
      log.failed(status, err);
      throw status;
    }
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
