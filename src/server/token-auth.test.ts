import { describe, expect, it } from "vitest";
import { refusal } from "../../test/support/refusal.js";
import { type TokenIdentity, type TokenValidator, tokenAuthenticator } from "./token-auth.js";

const NOW = 1_800_000_000_000;
const IDENTITY: TokenIdentity = {
  expiresAt: NOW + 3_600_000,
  roles: ["member"],
  userId: "u1",
  projectId: "p1",
};

/** A Keystone stand-in for the cache and role logic (the real Keystone is in caller-keystone.test.ts). */
function keystone(answers: Record<string, TokenIdentity | undefined>) {
  const asked: string[] = [];
  const validator: TokenValidator = {
    async validate(token) {
      asked.push(token);
      await Promise.resolve();
      return answers[token];
    },
  };
  return { validator, asked };
}

function headers(token?: string): Headers {
  return new Headers(token === undefined ? {} : { "x-auth-token": token });
}

describe("tokenAuthenticator", () => {
  const signal = new AbortController().signal;
  let clock = NOW;
  const options = (validator: TokenValidator) => ({
    validator,
    roles: ["member", "admin"],
    cacheTimeMs: 300_000,
    cacheSize: 2,
    now: () => clock,
  });

  it("admits a token with an admitted role, naming the user and carrying the token and its project", async () => {
    const { validator } = keystone({ good: IDENTITY });
    const caller = await tokenAuthenticator(options(validator)).authenticate(
      undefined,
      headers("good"),
      signal,
    );
    expect(caller).toMatchObject({
      method: "keystone",
      name: "u1",
      token: { value: "good", projectId: "p1" },
    });
    expect(caller.token?.id).not.toContain("good");
  });

  it("asks Keystone once for concurrent calls with one new token, then answers from the cache", async () => {
    clock = NOW;
    const { validator, asked } = keystone({ good: IDENTITY });
    const auth = tokenAuthenticator(options(validator));
    await Promise.all([1, 2, 3].map(() => auth.authenticate(undefined, headers("good"), signal)));
    await auth.authenticate(undefined, headers("good"), signal);
    expect(asked).toEqual(["good"]);
  });

  it("asks again once token_cache_time has passed, and never trusts a token past its expiry", async () => {
    clock = NOW;
    const { validator, asked } = keystone({ good: IDENTITY, short: { ...IDENTITY, expiresAt: NOW + 1_000 } });
    const auth = tokenAuthenticator(options(validator));
    await auth.authenticate(undefined, headers("good"), signal);
    await auth.authenticate(undefined, headers("short"), signal);
    clock = NOW + 1_500;
    const err = await refusal(auth.authenticate(undefined, headers("short"), signal));
    expect(err.reason).toBe("CALLER_CREDENTIALS_INVALID");
    clock = NOW + 300_001;
    await auth.authenticate(undefined, headers("good"), signal);
    expect(asked).toEqual(["good", "short", "short", "good"]);
  });

  it("remembers a refusal too, for token_cache_time", async () => {
    clock = NOW;
    const { validator, asked } = keystone({});
    const auth = tokenAuthenticator(options(validator));
    for (let i = 0; i < 3; i++) {
      const err = await refusal(auth.authenticate(undefined, headers("bogus"), signal));
      expect(err.code).toBe("unauthenticated");
    }
    expect(asked).toEqual(["bogus"]);
  });

  it("forgets the least recently used token beyond token_cache_size", async () => {
    clock = NOW;
    const { validator, asked } = keystone({ a: IDENTITY, b: IDENTITY, c: IDENTITY });
    const auth = tokenAuthenticator(options(validator));
    for (const t of ["a", "b", "c", "a"]) await auth.authenticate(undefined, headers(t), signal);
    expect(asked).toEqual(["a", "b", "c", "a"]);
  });

  it("refuses without a token, and a malformed one without asking Keystone", async () => {
    const { validator, asked } = keystone({});
    const auth = tokenAuthenticator(options(validator));
    const missing = await refusal(auth.authenticate(undefined, headers(), signal));
    expect(missing).toMatchObject({ code: "unauthenticated", reason: "CALLER_CREDENTIALS_MISSING" });
    const malformed = await refusal(auth.authenticate(undefined, headers("two words"), signal));
    expect(malformed).toMatchObject({ code: "unauthenticated", reason: "CALLER_CREDENTIALS_INVALID" });
    expect(asked).toEqual([]);
  });

  it("refuses a valid token without an admitted role, naming its roles and the admitted ones", async () => {
    const { validator } = keystone({ reader: { ...IDENTITY, roles: ["reader"] } });
    const err = await refusal(
      tokenAuthenticator(options(validator)).authenticate(undefined, headers("reader"), signal),
    );
    expect(err.code).toBe("permission_denied");
    expect(err.message).toBe(
      "the token's roles (reader) include none this service admits (member, admin; [metrics_access] caller_roles)",
    );
  });

  it("does not remember Keystone failing: the next call asks again", async () => {
    let fail = true;
    const validator: TokenValidator = {
      async validate() {
        if (fail) throw new Error("Keystone down");
        return IDENTITY;
      },
    };
    const auth = tokenAuthenticator(options(validator));
    await expect(auth.authenticate(undefined, headers("t"), signal)).rejects.toThrow("Keystone down");
    fail = false;
    await expect(auth.authenticate(undefined, headers("t"), signal)).resolves.toMatchObject({ name: "u1" });
  });
});
