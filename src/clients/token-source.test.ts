import { describe, expect, it } from "vitest";
import type { KeystoneToken } from "./keystone.js";
import {
  RENEW_BEFORE_MS,
  RETRY_FIRST_MS,
  RETRY_MAX_MS,
  STILL_USABLE_MS,
  TokenSource,
} from "./token-source.js";

function issuer(lifetimeMs: number, now: () => number) {
  let issued = 0;
  const issue = async (): Promise<KeystoneToken> => {
    issued += 1;
    await Promise.resolve();
    return {
      value: `token-${issued}`,
      expiresAt: now() + lifetimeMs,
      catalog: [],
      roles: [],
      projectId: "p",
    };
  };
  return { issue, count: () => issued };
}

/** Lets background renewals finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("TokenSource", () => {
  it("caches the token while it has more than two minutes left, then renews it", async () => {
    let clock = 0;
    const now = () => clock;
    const keystone = issuer(3_600_000, now);
    const tokens = new TokenSource(keystone.issue, { now });
    const first = await tokens.token();
    clock = 3_600_000 - RENEW_BEFORE_MS - 1;
    expect(await tokens.token()).toBe(first);
    clock += 1;
    // The renewal runs in the background: this call still gets the cached token at once.
    expect(await tokens.token()).toBe(first);
    await settle();
    expect((await tokens.token()).value).toBe("token-2");
    expect(keystone.count()).toBe(2);
  });

  it("makes callers wait only when the cached token is nearly expired", async () => {
    let clock = 0;
    const now = () => clock;
    const keystone = issuer(3_600_000, now);
    const tokens = new TokenSource(keystone.issue, { now });
    await tokens.token();
    clock = 3_600_000 - STILL_USABLE_MS;
    expect((await tokens.token()).value).toBe("token-2");
  });

  it("issues once for any number of concurrent callers", async () => {
    const keystone = issuer(3_600_000, () => 0);
    const tokens = new TokenSource(keystone.issue, { now: () => 0 });
    const all = await Promise.all(Array.from({ length: 20 }, () => tokens.token()));
    expect(new Set(all.map((t) => t.value))).toEqual(new Set(["token-1"]));
    expect(keystone.count()).toBe(1);
  });

  it("drops an invalidated token, but not a newer one", async () => {
    const keystone = issuer(3_600_000, () => 0);
    const tokens = new TokenSource(keystone.issue, { now: () => 0 });
    const first = await tokens.token();
    tokens.invalidate(first);
    const second = await tokens.token();
    expect(second.value).toBe("token-2");
    tokens.invalidate(first);
    expect(await tokens.token()).toBe(second);
  });

  it("fails callers at once with the last failure until the retry wait has passed, then tries again", async () => {
    let clock = 0;
    let fail = true;
    let tries = 0;
    const tokens = new TokenSource(
      async () => {
        tries += 1;
        if (fail) throw new Error(`keystone down (try ${tries})`);
        return { value: "ok", expiresAt: 10_000_000, catalog: [], roles: [], projectId: "p" };
      },
      { now: () => clock, random: () => 1 },
    );
    await expect(tokens.token()).rejects.toThrow("keystone down (try 1)");
    fail = false;
    clock = RETRY_FIRST_MS - 1;
    await expect(tokens.token()).rejects.toThrow("keystone down (try 1)");
    expect(tries).toBe(1);
    clock = RETRY_FIRST_MS;
    expect((await tokens.token()).value).toBe("ok");
    expect(tries).toBe(2);
  });

  it.each([
    [0, [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000]],
    [1, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]],
  ])("with a draw of %d, waits %j after each failure in a row (doubling, capped)", async (draw, waits) => {
    let clock = 0;
    let tries = 0;
    const tokens = new TokenSource(
      async () => {
        tries += 1;
        throw new Error("keystone down");
      },
      // A draw of 1 stands for the top of [0, 1): all of the wait.
      { now: () => clock, random: () => (draw === 1 ? 1 - Number.EPSILON : draw) },
    );
    await expect(tokens.token()).rejects.toThrow();
    for (const wait of waits) {
      const failedAt = clock;
      clock = failedAt + wait - 1;
      await expect(tokens.token()).rejects.toThrow();
      const before = tries;
      clock = failedAt + wait;
      await expect(tokens.token()).rejects.toThrow();
      expect(tries, `the try after a wait of ${wait} ms`).toBe(before + 1);
    }
    expect(RETRY_FIRST_MS).toBe(1_000);
    expect(RETRY_MAX_MS).toBe(30_000);
  });

  it("keeps using a still-valid token when renewal fails, and tries again only after the wait", async () => {
    let clock = 0;
    let keystoneUp = true;
    const failures: unknown[] = [];
    let issued = 0;
    let tries = 0;
    const tokens = new TokenSource(
      async () => {
        tries += 1;
        if (!keystoneUp) throw new Error("keystone down");
        issued += 1;
        return { value: `t${issued}`, expiresAt: clock + 600_000, catalog: [], roles: [], projectId: "p" };
      },
      { now: () => clock, random: () => 1, onRenewalFailure: (err) => failures.push(err) },
    );
    const first = await tokens.token();
    clock = 600_000 - RENEW_BEFORE_MS + 1;
    keystoneUp = false;
    expect(await tokens.token()).toBe(first);
    await settle();
    expect(failures).toHaveLength(1);
    // Calls in the meantime keep the cached token and do not ask Keystone (nor report again).
    for (let i = 0; i < 50; i++) expect(await tokens.token()).toBe(first);
    await settle();
    expect(tries).toBe(2);
    expect(failures).toHaveLength(1);
    keystoneUp = true;
    clock += RETRY_FIRST_MS;
    expect(await tokens.token()).toBe(first);
    await settle();
    expect((await tokens.token()).value).toBe("t2");
  });

  it("fails when renewal fails and the token is about to expire, or was refused", async () => {
    let clock = 0;
    let keystoneUp = true;
    const tokens = new TokenSource(
      async () => {
        if (!keystoneUp) throw new Error("keystone down");
        return { value: "t", expiresAt: clock + 600_000, catalog: [], roles: [], projectId: "p" };
      },
      { now: () => clock },
    );
    const token = await tokens.token();
    keystoneUp = false;
    clock = 600_000 - STILL_USABLE_MS;
    await expect(tokens.token()).rejects.toThrow("keystone down");
    clock = 0;
    tokens.invalidate(token);
    await expect(tokens.token()).rejects.toThrow("keystone down");
  });

  it("tells authentications from renewals, and failures from successes", async () => {
    let clock = 0;
    const now = () => clock;
    const keystone = issuer(3_600_000, now);
    let fail = false;
    const seen: string[] = [];
    const tokens = new TokenSource(
      async () => {
        if (fail) throw new Error("keystone down");
        return await keystone.issue();
      },
      { now, onIssued: (kind, ok) => seen.push(`${kind}:${ok}`), onRenewalFailure: () => {} },
    );
    const first = await tokens.token();
    clock = 3_600_000 - RENEW_BEFORE_MS;
    await tokens.token();
    await settle();
    fail = true;
    clock = 2 * 3_600_000 - RENEW_BEFORE_MS - STILL_USABLE_MS + 1;
    await expect(tokens.token()).rejects.toThrow("keystone down");
    fail = false;
    clock += RETRY_FIRST_MS;
    tokens.invalidate(await tokens.token());
    await tokens.token();
    expect(first.value).toBe("token-1");
    expect(seen).toEqual([
      "authentication:true",
      "renewal:true",
      "renewal:false",
      "renewal:true",
      "authentication:true",
    ]);
  });
});
