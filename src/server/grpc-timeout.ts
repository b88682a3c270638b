import { Code, ConnectError } from "@connectrpc/connect";

/** TimeoutValue (at most 8 digits) and TimeoutUnit, as the gRPC HTTP/2 spec writes grpc-timeout. */
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;

const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * The longest delay setTimeout takes; a longer one fires at once (with a warning). A unary call
 * with a deadline weeks away has, in practice, no deadline.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The deadline a grpc-timeout header asks for, in milliseconds; undefined without the header.
 * A malformed value is INVALID_ARGUMENT, as connect answers it, rather than silently no deadline.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? GRPC_TIMEOUT.exec(value) : null;
  const unit = match?.[2] === undefined ? undefined : UNIT_MS[match[2]];
  if (match === null || unit === undefined) {
    throw new ConnectError(
      `protocol error: invalid grpc timeout value: ${String(value)}`,
      Code.InvalidArgument,
    );
  }
  return Number(match[1]) * unit;
}
