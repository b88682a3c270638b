import { SingleFlight } from "../single-flight.js";
import type { KeystoneToken } from "./keystone.js";

/** keystoneauth renews a token that has less than this left (BaseIdentityPlugin.MIN_TOKEN_LIFE_SECONDS). */
export const RENEW_BEFORE_MS = 120_000;
/** A token this close to expiry is not worth sending even when renewal fails. */
export const STILL_USABLE_MS = 10_000;
/** After a failed issue, the next try waits this long, doubling with each failure in a row… */
export const RETRY_FIRST_MS = 1_000;
/** …up to this; each wait is drawn between half of it and all of it, so replicas do not move in step. */
export const RETRY_MAX_MS = 30_000;

export interface TokenSourceOptions {
  readonly now?: () => number;
  /** Draws the jitter of a retry wait, in [0, 1). */
  readonly random?: () => number;
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
 * slow or stopped Keystone costs them nothing. keystoneauth would make every call wait for the
 * renewal, and fail with it.
 *
 * A failed issue is tried again only after a wait (RETRY_FIRST_MS doubling to RETRY_MAX_MS, with
 * jitter), not by every call that comes meanwhile: while the cached token is usable calls go on with
 * it, and without one they fail at once with the failure of the last try instead of each waiting on
 * a Keystone that is down or slow. So a failure is reported (and logged) once per try, not per call.
 */
export class TokenSource {
  readonly #issue: () => Promise<KeystoneToken>;
  readonly #now: () => number;
  readonly #onRenewalFailure: (err: unknown, token: KeystoneToken) => void;
  readonly #onIssued: (kind: TokenIssueKind, ok: boolean) => void;
  readonly #random: () => number;
  #current: KeystoneToken | undefined;
  /** Failed issues in a row, when the next may start, and why the last one failed. */
  #failures = 0;
  #retryAt = 0;
  #lastFailure: unknown;
  readonly #issuing = new SingleFlight<"token", KeystoneToken>();

  constructor(issue: () => Promise<KeystoneToken>, options: TokenSourceOptions = {}) {
    this.#issue = issue;
    this.#now = options.now ?? Date.now;
    this.#onRenewalFailure = options.onRenewalFailure ?? (() => {});
    this.#onIssued = options.onIssued ?? (() => {});
    this.#random = options.random ?? Math.random;
  }

  /**
   * A token with at least two minutes to live, or the cached one while it is renewed. A caller
   * whose `signal` aborts stops waiting for an issue in flight; the issue goes on for the others.
   */
  async token(signal?: AbortSignal): Promise<KeystoneToken> {
    const current = this.#current;
    const left = current ? current.expiresAt - this.#now() : 0;
    if (current && left > RENEW_BEFORE_MS) return current;
    const usable = current !== undefined && left > STILL_USABLE_MS;
    if (this.#now() < this.#retryAt && !this.#issuing.has("token")) {
      if (usable && current) return current;
      throw this.#lastFailure;
    }
    const kind: TokenIssueKind = current && left > 0 ? "renewal" : "authentication";
    const issue = async () => {
      let token: KeystoneToken;
      try {
        token = await this.#issue();
      } catch (err) {
        this.#failed(err);
        this.#onIssued(kind, false);
        throw err;
      }
      this.#failures = 0;
      this.#retryAt = 0;
      this.#onIssued(kind, true);
      this.#current = token;
      return token;
    };
    if (usable && current) {
      // Renewal in the background: no caller waits for it, so no caller's signal may stop it.
      this.#issuing.run("token", issue).catch((err: unknown) => this.#onRenewalFailure(err, current));
      return current;
    }
    return await this.#issuing.run("token", issue, signal);
  }

  #failed(err: unknown): void {
    this.#failures += 1;
    this.#lastFailure = err;
    const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.#failures - 1));
    this.#retryAt = this.#now() + wait * (0.5 + this.#random() / 2);
  }

  /** Forgets `token` if it is still the cached one (a 401 from Aetos): the next call issues anew. */
  invalidate(token: KeystoneToken): void {
    if (this.#current === token) this.#current = undefined;
  }
}
