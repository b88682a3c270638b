/**
 * The one error type the service raises on purpose. Every layer below the server throws it with a
 * code; `server/error-status.ts` is the only place that turns it into a gRPC status.
 */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "failed_precondition"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "unavailable"
  | "internal";

/**
 * Every google.rpc.ErrorInfo reason the service sends, stable names a program can branch on. The
 * proto's service comment lists each of them (a unit test holds the two together), except the
 * start-up-only ones below, which end the process instead of reaching a caller.
 */
export const ERROR_REASONS = [
  "INVALID_FIELD",
  "UNKNOWN_METRIC",
  "HOST_NOT_FOUND",
  "HOST_AMBIGUOUS",
  "SERIES_ABSENT",
  "UPSTREAM_UNAUTHORIZED",
  "UPSTREAM_FORBIDDEN",
  "UPSTREAM_EXPECTS_TLS",
  "UPSTREAM_REJECTED_QUERY",
  "UPSTREAM_NOT_FOUND",
  "UPSTREAM_MALFORMED",
  "UPSTREAM_FAILED",
  "UPSTREAM_UNREACHABLE",
  "KEYSTONE_REFUSED",
  "KEYSTONE_BAD_REQUEST",
  "KEYSTONE_FAILED",
  "KEYSTONE_MALFORMED",
  "KEYSTONE_ROLE_INSUFFICIENT",
  "CATALOG_NO_ENDPOINT",
  "CATALOG_BAD_URL",
  "LISTEN_FAILED",
  "CALLER_CREDENTIALS_MISSING",
  "CALLER_CREDENTIALS_INVALID",
  "CALLER_NOT_ALLOWED",
  "UPSTREAM_DENIED_CALLER",
  "UPSTREAM_QUERY_LIMIT",
  "UPSTREAM_TIMEOUT",
] as const;

export type ErrorReason = (typeof ERROR_REASONS)[number];

/** Reasons raised only while the service starts: they end the process and never reach a caller. */
export const STARTUP_ONLY_REASONS: ReadonlySet<ErrorReason> = new Set([
  "KEYSTONE_ROLE_INSUFFICIENT",
  "CATALOG_NO_ENDPOINT",
  "CATALOG_BAD_URL",
  "LISTEN_FAILED",
]);

export interface MetricsAccessErrorOptions {
  /** A stable UPPER_SNAKE reason a program can branch on. */
  reason: ErrorReason;
  /** The request field at fault, for invalid_argument. */
  field?: string;
  /** The underlying error, for logs only: never sent to a caller. */
  cause?: unknown;
}

/**
 * An error whose message is safe to send to a caller: it names what went wrong in the caller's
 * terms and never carries upstream URLs, tokens or passwords.
 */
export class MetricsAccessError extends Error {
  override readonly name = "MetricsAccessError";
  readonly code: ErrorCode;
  readonly reason: ErrorReason;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: MetricsAccessErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reason = options.reason;
    this.field = options.field;
  }
}

export function isMetricsAccessError(value: unknown): value is MetricsAccessError {
  return value instanceof Error && value.name === "MetricsAccessError" && "code" in value;
}

/** An invalid request field; the message starts with the field's name. */
export function invalidArgument(field: string, problem: string): MetricsAccessError {
  return new MetricsAccessError("invalid_argument", `${field}: ${problem}`, {
    reason: "INVALID_FIELD",
    field,
  });
}

/** The `code` of an error (ECONNREFUSED, ENOENT, HEADERS_TIMEOUT, …), or `fallback`. */
export function errorCodeOf(err: unknown, fallback: string): string {
  return err instanceof Error && "code" in err && err.code !== undefined ? String(err.code) : fallback;
}
