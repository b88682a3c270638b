import { MetricsAccessError } from "../errors.js";
import type { KeystoneClient, ValidatedToken } from "./keystone.js";
import type { TokenSource } from "./token-source.js";

/**
 * Validates callers' tokens with Keystone, asking with the service's own token; when Keystone
 * refuses that one (401: revoked, or Keystone's keys rotated), it is dropped and the question asked
 * once more with a fresh one, as keystoneauth's session does.
 */
export class KeystoneTokenValidator {
  readonly #keystone: KeystoneClient;
  readonly #tokens: TokenSource;

  constructor(keystone: KeystoneClient, tokens: TokenSource) {
    this.#keystone = keystone;
    this.#tokens = tokens;
  }

  /** What the token carries, or undefined when Keystone does not know it. */
  async validate(subject: string, signal?: AbortSignal): Promise<ValidatedToken | undefined> {
    const own = await this.#tokens.token(signal);
    let answer = await this.#keystone.validateToken(own.value, subject, signal);
    if (answer.status === "own_token_refused") {
      this.#tokens.invalidate(own);
      const fresh = await this.#tokens.token(signal);
      answer = await this.#keystone.validateToken(fresh.value, subject, signal);
    }
    if (answer.status === "own_token_refused") {
      throw new MetricsAccessError(
        "unavailable",
        "Keystone refused the service's own token while validating a caller's ([watcher_clients_auth])",
        { reason: "KEYSTONE_REFUSED" },
      );
    }
    return answer.status === "valid" ? answer.token : undefined;
  }
}
