import type { DescService } from "@bufbuild/protobuf";
import { createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { CallerToken } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { PEER, type Peer } from "./peer.js";

/** Who called, once authenticated: what the access log names and what may travel upstream. */
export interface Caller {
  readonly method: "none" | "mtls" | "keystone";
  /** A certificate subject or a Keystone user id, for the log; undefined with caller_auth = none. */
  readonly name: string | undefined;
  /** The caller's validated Keystone token (caller_auth = keystone). */
  readonly token: CallerToken | undefined;
}

/** Decides who a call comes from, or refuses it (UNAUTHENTICATED, PERMISSION_DENIED). */
export interface CallerAuthenticator {
  authenticate(peer: Peer | undefined, header: Headers, signal: AbortSignal): Promise<Caller>;
}

/** The authenticated caller of a call, set by requireCaller before the implementation runs. */
export const CALLER = createContextKey<Caller | undefined>(undefined, { description: "caller" });

/**
 * `impl` with every unary method preceded by `authenticator`: the call reaches the implementation
 * only once its caller is admitted, and finds the caller in `ctx.values` (CALLER). The fast path
 * and connect both call these methods, so both are guarded by the one wrapper.
 */
export function requireCaller<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  authenticator: CallerAuthenticator,
): ServiceImpl<S> {
  const guarded: Record<string, unknown> = {};
  for (const method of service.methods) {
    const fn: unknown = Reflect.get(impl, method.localName);
    if (typeof fn !== "function") continue;
    if (method.methodKind !== "unary") {
      throw new Error(`requireCaller guards unary methods only; ${method.name} is ${method.methodKind}`);
    }
    const call = fn.bind(impl) as (req: unknown, ctx: HandlerContext) => unknown;
    guarded[method.localName] = async (req: unknown, ctx: HandlerContext) => {
      const caller = await authenticator.authenticate(ctx.values.get(PEER), ctx.requestHeader, ctx.signal);
      ctx.values.set(CALLER, caller);
      return await call(req, ctx);
    };
  }
  // Every method of `service` was carried over with its own signature.
  return guarded as ServiceImpl<S>;
}

export function unauthenticated(
  message: string,
  reason: "CALLER_CREDENTIALS_MISSING" | "CALLER_CREDENTIALS_INVALID",
): MetricsAccessError {
  return new MetricsAccessError("unauthenticated", message, { reason });
}

export function notAllowed(message: string): MetricsAccessError {
  return new MetricsAccessError("permission_denied", message, { reason: "CALLER_NOT_ALLOWED" });
}
