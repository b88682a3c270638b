import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { SingleFlight } from "../single-flight.js";
import { type Caller, type CallerAuthenticator, notAllowed, unauthenticated } from "./caller-auth.js";

export const TOKEN_HEADER = "x-auth-token";

/** What Keystone says a valid token carries (clients/keystone.ts ValidatedToken has this shape). */
export interface TokenIdentity {
  /** Unix milliseconds. */
  readonly expiresAt: number;
  readonly roles: readonly string[];
  readonly userId: string;
  readonly projectId: string | undefined;
}

/** Asks Keystone about a token: its identity, or undefined when Keystone does not know it. */
export interface TokenValidator {
  validate(token: string, signal?: AbortSignal): Promise<TokenIdentity | undefined>;
}

export interface TokenAuthOptions {
  readonly validator: TokenValidator;
  /** A token must carry one of these roles. */
  readonly roles: readonly string[];
  /** How long Keystone's word on a token is kept (token_cache_time). */
  readonly cacheTimeMs: number;
  /** Most tokens kept at once. */
  readonly cacheSize: number;
  readonly now?: () => number;
}

/** Keystone's word on a token: an identity, or "unknown" (expired, revoked or made up). */
type Verdict = { readonly identity: TokenIdentity } | { readonly unknown: true };

/** A Keystone token's text: printable ASCII, of a sane length; anything else is not sent to Keystone. */
const TOKEN_SHAPE = /^[\x21-\x7e]{1,8192}$/;

/**
 * caller_auth = keystone, as keystonemiddleware does it: the caller's x-auth-token is validated
 * with Keystone (GET /v3/auth/tokens), Keystone's answer kept for token_cache_time (never past the
 * token's expiry) in a bounded LRU keyed by the token's SHA-256, so the token itself is not a key;
 * concurrent calls with the same new token ask Keystone once. Keystone failing (unreachable, 5xx)
 * is not kept: the next call asks again.
 */
export function tokenAuthenticator(options: TokenAuthOptions): CallerAuthenticator {
  const now = options.now ?? Date.now;
  const admitted = new Set(options.roles);
  // The cache's clock is the authenticator's, so that a test's clock moves both.
  const verdicts = new LRUCache<string, Verdict>({ max: options.cacheSize, perf: { now }, ttlResolution: 0 });
  const asking = new SingleFlight<string, Verdict>();

  const verdictOf = async (token: string, id: string, signal: AbortSignal): Promise<Verdict> => {
    const kept = verdicts.get(id);
    if (kept !== undefined) return kept;
    return await asking.run(
      id,
      async (flightSignal) => {
        const identity = await options.validator.validate(token, flightSignal);
        const verdict: Verdict = identity === undefined ? { unknown: true } : { identity };
        const lifeMs = identity === undefined ? options.cacheTimeMs : identity.expiresAt - now();
        const ttl = Math.min(options.cacheTimeMs, lifeMs);
        if (ttl >= 1) verdicts.set(id, verdict, { ttl });
        return verdict;
      },
      signal,
    );
  };

  return {
    async authenticate(_peer, header, signal): Promise<Caller> {
      const token = header.get(TOKEN_HEADER);
      if (token === null || token === "") {
        throw unauthenticated(
          `${TOKEN_HEADER}: a Keystone token is required (caller_auth = keystone)`,
          "CALLER_CREDENTIALS_MISSING",
        );
      }
      if (!TOKEN_SHAPE.test(token)) {
        throw unauthenticated(`${TOKEN_HEADER}: not a Keystone token`, "CALLER_CREDENTIALS_INVALID");
      }
      const id = createHash("sha256").update(token).digest("base64url");
      const verdict = await verdictOf(token, id, signal);
      if ("unknown" in verdict || verdict.identity.expiresAt <= now()) {
        throw unauthenticated(
          `${TOKEN_HEADER}: Keystone does not accept this token (expired, revoked or unknown)`,
          "CALLER_CREDENTIALS_INVALID",
        );
      }
      const { identity } = verdict;
      if (!identity.roles.some((role) => admitted.has(role))) {
        const held = identity.roles.length === 0 ? "none" : [...identity.roles].sort().join(", ");
        throw notAllowed(
          `the token's roles (${held}) include none this service admits (${[...admitted].join(", ")}; [metrics_access] caller_roles)`,
        );
      }
      return {
        method: "keystone",
        name: identity.userId,
        token: { value: token, id, projectId: identity.projectId, roles: identity.roles },
      };
    },
  };
}
