import { SingleFlight } from "../single-flight.js";
import type { KeystoneToken } from "./keystone.js";

/** keystoneauth renews a token that has less than this left (BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS). */
export const RENEW_BEFORE_MS = 120_000;
/** A token this close to expiry is not worth sending even when renewal fails. */
export const STILL_USABLE_MS = 10_000;

export interface TokenSourceOptions {
  readonly now?: () => number;
  /** Called when a background renewal fails; the cached token is still used. */
  readonly onRenewalFailure?: (err: unknown, token: KeystoneToken) => void;
  /**
   * Called when an issue ends: "authentication" when no token was held (the first, or after a 401
   * dropped it or it expired), "renewal" when one was held and near its end.
   */
  readonly onIssued?: ((kind: TokenIssueKind, ok: boolean) => void) | undefined;
}

export type TokenIssueKind = "authentication" | "renewal";

/**
 * The service's Keystone token: cached, renewed when it has less than two minutes left, and
 * issued once for any number of concurrent callers. While the cached token is still good for more
 * than STILL_USABLE_MS, renewal runs in the background and calls keep using the cached token, so a
 * slow or stopped Keystone costs them nothing; a failed renewal is reported and retried by the next
 * call. keystoneauth would make every call wait for the renewal, and fail with it.
 */
export class TokenSource {
  readonly #issue: () => Promise<KeystoneToken>;
  readonly #now: () => number;
  readonly #onRenewalFailure: (err: unknown, token: KeystoneToken) => void;
  readonly #onIssued: (kind: TokenIssueKind, ok: boolean) => void;
  #current: KeystoneToken | undefined;
  readonly #issuing = new SingleFlight<"token", KeystoneToken>();

  constructor(issue: () => Promise<KeystoneToken>, options: TokenSourceOptions = {}) {
    this.#issue = issue;
    this.#now = options.now ?? Date.now;
    this.#onRenewalFailure = options.onRenewalFailure ?? (() => {});
    this.#onIssued = options.onIssued ?? (() => {});
  }

  /**
   * A token with at least two minutes to live, or the cached one while it is renewed. A caller
   * whose `signal` aborts stops waiting for an issue in flight; the issue goes on for the others.
   */
  async token(signal?: AbortSignal): Promise<KeystoneToken> {
    const current = this.#current;
    const left = current ? current.expiresAt - this.#now() : 0;
    if (current && left > RENEW_BEFORE_MS) return current;
    const kind: TokenIssueKind = current && left > 0 ? "renewal" : "authentication";
    const issue = async () => {
      let token: KeystoneToken;
      try {
        token = await this.#issue();
      } catch (err) {
        this.#onIssued(kind, false);
        throw err;
      }
      this.#onIssued(kind, true);
      this.#current = token;
      return token;
    };
    if (current && left > STILL_USABLE_MS) {
      // Renewal in the background: no caller waits for it, so no caller's signal may stop it.
      this.#issuing.run("token", issue).catch((err: unknown) => this.#onRenewalFailure(err, current));
      return current;
    }
    return await this.#issuing.run("token", issue, signal);
  }

  /** Forgets `token` if it is still the cached one (a 401 from Aetos): the next call issues anew. */
  invalidate(token: KeystoneToken): void {
    if (this.#current === token) this.#current = undefined;
  }
}
