import type { KeystoneToken } from "./keystone.js";

/** keystoneauth renews a token that has less than this left (BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS). */
export const RENEW_BEFORE_MS = 120_000;
/** A token this close to expiry is not worth sending even when renewal fails. */
export const STILL_USABLE_MS = 10_000;

export interface TokenSourceOptions {
  readonly now?: () => number;
  /** Called when renewal fails but the cached token is still used. */
  readonly onRenewalFailure?: (err: unknown, token: KeystoneToken) => void;
}

/**
 * The service's Keystone token: cached, renewed when it has less than two minutes left, and
 * issued once for any number of concurrent callers. When renewal fails (Keystone down) while the
 * cached token is still valid, the cached token is used — Aetos may still accept it — and the next
 * call tries to renew again. keystoneauth would fail the call instead.
 */
export class TokenSource {
  readonly #issue: () => Promise<KeystoneToken>;
  readonly #now: () => number;
  readonly #onRenewalFailure: (err: unknown, token: KeystoneToken) => void;
  #current: KeystoneToken | undefined;
  #issuing: Promise<KeystoneToken> | undefined;

  constructor(issue: () => Promise<KeystoneToken>, options: TokenSourceOptions = {}) {
    this.#issue = issue;
    this.#now = options.now ?? Date.now;
    this.#onRenewalFailure = options.onRenewalFailure ?? (() => {});
  }

  /** A token with at least two minutes to live, or the cached one if renewal fails. */
  async token(): Promise<KeystoneToken> {
    const current = this.#current;
    if (current && current.expiresAt - this.#now() > RENEW_BEFORE_MS) return current;
    if (!this.#issuing) {
      this.#issuing = this.#issue()
        .then((token) => {
          this.#current = token;
          return token;
        })
        .finally(() => {
          this.#issuing = undefined;
        });
    }
    try {
      return await this.#issuing;
    } catch (err) {
      // Never after invalidate(): a token Aetos refused is not sent again.
      if (current && this.#current === current && current.expiresAt - this.#now() > STILL_USABLE_MS) {
        this.#onRenewalFailure(err, current);
        return current;
      }
      throw err;
    }
  }

  /** Forgets `token` if it is still the cached one (a 401 from Aetos): the next call issues anew. */
  invalidate(token: KeystoneToken): void {
    if (this.#current === token) this.#current = undefined;
  }
}
