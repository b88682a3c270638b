import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorCode, isMetricsAccessError } from "../errors.js";
import { BadRequestSchema, ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";

/** ErrorInfo.domain of every error this service raises. */
export const ERROR_DOMAIN = "metricsaccess.v1";

type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

const CODES: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

/**
 * The one place an error becomes a gRPC status. Our typed errors keep their (safe) message and
 * carry google.rpc.ErrorInfo (the reason) and, for a bad field, google.rpc.BadRequest; the
 * caller's own deadline or cancellation keeps its code; anything else becomes a bare INTERNAL, so
 * that no stray upstream text, URL or credential reaches a caller.
 */
export function toConnectError(err: unknown, signal: AbortSignal): ConnectError {
  // The call's own signal: connect's deadline or cancel, or a client that went away (a plain
  // DOMException on HTTP/1.1 disconnects and streams closed without a code).
  if (signal.aborted) {
    return signal.reason instanceof ConnectError
      ? signal.reason
      : new ConnectError("call cancelled", Code.Canceled);
  }
  if (err instanceof ConnectError) return err;
  if (isMetricsAccessError(err)) {
    const metadata = new Headers({ "x-error-reason": err.reason });
    const details: OutgoingDetail[] = [
      { desc: ErrorInfoSchema, value: { reason: err.reason, domain: ERROR_DOMAIN } },
    ];
    if (err.field !== undefined) {
      details.push({
        desc: BadRequestSchema,
        value: { fieldViolations: [{ field: err.field, description: err.message }] },
      });
    }
    return new ConnectError(err.message, CODES[err.code], metadata, details);
  }
  return new ConnectError("internal error", Code.Internal);
}

/**
 * Client faults are logged at info, server faults at error. PERMISSION_DENIED is kept for what a
 * caller may not do; the service's own credentials refused by Prometheus, Aetos or Keystone are
 * UNAVAILABLE (reasons UPSTREAM_UNAUTHORIZED, UPSTREAM_FORBIDDEN, KEYSTONE_REFUSED), a server fault.
 */
export function isServerFault(code: Code): boolean {
  return (
    code === Code.Internal || code === Code.Unknown || code === Code.Unavailable || code === Code.DataLoss
  );
}
