import type { KeystoneToken } from "./keystone.js";

/** keystoneauth renews a token that has less than this left (BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS). */
export const RENEW_BEFORE_MS = 120_000;

/**
 * The service's Keystone token: cached, renewed when it has less than two minutes left, and
 * issued once for any number of concurrent callers.
 */
export class TokenSource {
  readonly #issue: () => Promise<KeystoneToken>;
  readonly #now: () => number;
  #current: KeystoneToken | undefined;
  #issuing: Promise<KeystoneToken> | undefined;

  constructor(issue: () => Promise<KeystoneToken>, now: () => number = Date.now) {
    this.#issue = issue;
    this.#now = now;
  }

  /** A token with at least two minutes to live. */
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
    return await this.#issuing;
  }

  /** Forgets `token` if it is still the cached one (a 401 from Aetos): the next call issues anew. */
  invalidate(token: KeystoneToken): void {
    if (this.#current === token) this.#current = undefined;
  }
}
