import { randomUUID } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "../log.js";
import { isServerFault, toConnectError } from "./error-status.js";

export const REQUEST_ID_HEADER = "x-request-id";
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every call a request id (the caller's x-request-id when it is sane, else a new uuid),
 * echoes it in the response headers, writes one access-log line per call, and maps every error to
 * a gRPC status through toConnectError.
 */
export function callInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const offered = req.header.get(REQUEST_ID_HEADER);
    const requestId = offered && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    const log = logger.child({ requestId, rpc: `${req.service.typeName}/${req.method.name}` });
    const started = performance.now();
    try {
      const res = await next(req);
      res.header.set(REQUEST_ID_HEADER, requestId);
      log.info({ code: "ok", durationMs: elapsed(started) }, "call");
      return res;
    } catch (err) {
      const status = toConnectError(err, req.signal);
      status.metadata.set(REQUEST_ID_HEADER, requestId);
      const fields = { code: codeToString(status.code), durationMs: elapsed(started) };
      // A server fault needs its cause and stack; a refused request only what was wrong with it.
      if (isServerFault(status.code)) log.error({ ...fields, err }, "call failed");
      else
        log.info(
          { ...fields, reason: status.metadata.get("x-error-reason"), message: status.rawMessage },
          "call refused",
        );
      throw status;
    }
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
