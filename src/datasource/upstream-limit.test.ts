import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isMetricsAccessError, type MetricsAccessError } from "../errors.js";
import type { ActiveTarget, CallOptions, Datasource, Sample } from "./datasource.js";
import { DEADLINE_MARGIN_MS, UpstreamLimit } from "./upstream-limit.js";

interface Pending {
  readonly what: string;
  answer(): void;
  fail(err: Error): void;
}

/** Holds every request it is sent until the test answers or fails it. */
class HeldDatasource implements Datasource {
  readonly name = "prometheus";
  readonly labels = { fqdn: "fqdn", instanceUuid: "resource" };
  readonly maxQueryLength = undefined;
  readonly pending: Pending[] = [];
  probes = 0;

  #hold<T>(what: string, value: T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ what, answer: () => resolve(value), fail: reject });
    });
  }

  /** Answers the oldest request held, and lets the answer travel. */
  async answerNext(): Promise<string> {
    const next = this.pending.shift();
    if (next === undefined) throw new Error("nothing held");
    next.answer();
    await vi.advanceTimersByTimeAsync(0);
    return next.what;
  }

  instantQuery(promql: string): Promise<Sample[]> {
    return this.#hold(promql, []);
  }

  queryLength(promql: string): number {
    return promql.length;
  }

  activeTargets(): Promise<ActiveTarget[]> {
    return this.#hold("targets", []);
  }

  async projectScope(): Promise<string | undefined> {
    return undefined;
  }
  seriesNames(): Promise<string[]> {
    return this.#hold("series", []);
  }

  async probe(): Promise<void> {
    this.probes++;
  }

  async close(): Promise<void> {}
}

/** How a call ended, recorded as it ends. */
type Ending = { readonly ok: true } | { readonly ok: false; readonly err: unknown };

function track(call: Promise<unknown>): { readonly ending: Ending | undefined } {
  const state: { ending: Ending | undefined } = { ending: undefined };
  call.then(
    () => {
      state.ending = { ok: true };
    },
    (err: unknown) => {
      state.ending = { ok: false, err };
    },
  );
  return state;
}

function refusal(ending: Ending | undefined): MetricsAccessError {
  if (ending === undefined || ending.ok || !isMetricsAccessError(ending.err)) {
    throw new Error(`expected a refusal, got ${JSON.stringify(ending)}`);
  }
  return ending.err;
}

function setUp(maxInFlight = 2, queueTimeoutMs = 5000) {
  const inner = new HeldDatasource();
  return { inner, limit: new UpstreamLimit(inner, { maxInFlight, queueTimeoutMs }) };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("UpstreamLimit", () => {
  it("sends up to the cap at once and lets the others wait, first come first served", async () => {
    const { inner, limit } = setUp(2);
    const calls = ["q1", "q2", "q3", "q4", "q5"].map((q) => track(limit.instantQuery(q, {})));
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.pending.map((p) => p.what)).toEqual(["q1", "q2"]);
    expect(limit.counts).toEqual({ inFlight: 2, waiting: 3, refused: 0 });

    expect(await inner.answerNext()).toBe("q1");
    expect(inner.pending.map((p) => p.what)).toEqual(["q2", "q3"]);
    expect(calls[0]?.ending).toEqual({ ok: true });
    await inner.answerNext();
    await inner.answerNext();
    expect(inner.pending.map((p) => p.what)).toEqual(["q4", "q5"]);
    expect(limit.counts).toEqual({ inFlight: 2, waiting: 0, refused: 0 });
    await inner.answerNext();
    await inner.answerNext();
    expect(calls.map((c) => c.ending)).toEqual(calls.map(() => ({ ok: true })));
    expect(limit.counts).toEqual({ inFlight: 0, waiting: 0, refused: 0 });
  });

  it("limits the target list and the series names as well, in the same line", async () => {
    const { inner, limit } = setUp(1);
    const calls = [limit.activeTargets({}), limit.seriesNames({}), limit.instantQuery("up", {})];
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.pending.map((p) => p.what)).toEqual(["targets"]);
    expect(await inner.answerNext()).toBe("targets");
    expect(await inner.answerNext()).toBe("series");
    expect(await inner.answerNext()).toBe("up");
    await Promise.all(calls);
  });

  it("never queues the readiness probe, even with every place taken", async () => {
    const { inner, limit } = setUp(1);
    void limit.instantQuery("busy", {});
    track(limit.instantQuery("waiting", {}));
    await limit.probe({});
    expect(inner.probes).toBe(1);
    expect(limit.counts).toMatchObject({ inFlight: 1, waiting: 1 });
  });

  it("refuses a call no place reached within the queue timeout, naming the limit and both options", async () => {
    const { inner, limit } = setUp(2, 5000);
    void limit.instantQuery("a", {});
    void limit.instantQuery("b", {});
    const late = track(limit.instantQuery("c", {}));
    await vi.advanceTimersByTimeAsync(4999);
    expect(late.ending).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    const err = refusal(late.ending);
    expect(err.code).toBe("resource_exhausted");
    expect(err.reason).toBe("UPSTREAM_QUERY_LIMIT");
    expect(err.message).toBe(
      "upstream query limit reached: 2 queries in flight ([metrics_access] max_concurrent_upstream_queries) and no place freed within 5 s ([metrics_access] upstream_queue_timeout)",
    );
    expect(limit.counts).toEqual({ inFlight: 2, waiting: 0, refused: 1 });
    // The call that gave up left the line: the next place goes to nobody, and then frees.
    await inner.answerNext();
    expect(inner.pending.map((p) => p.what)).toEqual(["b"]);
    expect(limit.counts.inFlight).toBe(1);
  });

  it("refuses at once when the queue timeout is 0 and every place is taken", async () => {
    const { limit } = setUp(1, 0);
    void limit.instantQuery("a", {});
    expect(refusal(await settle(limit, "b")).message).toContain("no place freed within 0 s");
  });

  it("gives up shortly before the caller's deadline when that comes before the queue timeout", async () => {
    const { limit } = setUp(1, 5000);
    void limit.instantQuery("a", {});
    const deadline = Date.now() + 1000;
    const late = track(limit.instantQuery("b", { deadline }));
    await vi.advanceTimersByTimeAsync(1000 - DEADLINE_MARGIN_MS - 1);
    expect(late.ending).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    const err = refusal(late.ending);
    expect(err.reason).toBe("UPSTREAM_QUERY_LIMIT");
    expect(err.message).toBe(
      "upstream query limit reached: 1 queries in flight ([metrics_access] max_concurrent_upstream_queries) and no place freed before the call's deadline",
    );
  });

  it("keeps to the queue timeout when the deadline is further away", async () => {
    const { limit } = setUp(1, 500);
    void limit.instantQuery("a", {});
    const late = track(limit.instantQuery("b", { deadline: Date.now() + 60_000 }));
    await vi.advanceTimersByTimeAsync(500);
    expect(refusal(late.ending).message).toContain("within 0.5 s");
  });

  it("refuses at once a call whose deadline is within the margin when it would have to wait", async () => {
    const { limit } = setUp(1);
    void limit.instantQuery("a", {});
    const ending = await settle(limit, "b", { deadline: Date.now() + DEADLINE_MARGIN_MS });
    expect(refusal(ending).message).toContain("before the call's deadline");
  });

  it("sends a call with a free place whatever its deadline", async () => {
    const { inner, limit } = setUp(1);
    void limit.instantQuery("a", { deadline: Date.now() + 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.pending.map((p) => p.what)).toEqual(["a"]);
  });

  it("lets an aborted caller leave the line at once, with its signal's reason", async () => {
    const { inner, limit } = setUp(1);
    void limit.instantQuery("a", {});
    const controller = new AbortController();
    const leaving = track(limit.instantQuery("b", { signal: controller.signal }));
    const after = track(limit.instantQuery("c", {}));
    await vi.advanceTimersByTimeAsync(0);
    const reason = new Error("caller went away");
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(leaving.ending).toEqual({ ok: false, err: reason });
    expect(limit.counts).toEqual({ inFlight: 1, waiting: 1, refused: 0 });
    await inner.answerNext();
    expect(inner.pending.map((p) => p.what)).toEqual(["c"]);
    await inner.answerNext();
    expect(after.ending).toEqual({ ok: true });
  });

  it("takes no place for a caller already aborted", async () => {
    const { inner, limit } = setUp(1);
    const reason = new Error("already gone");
    const ending = await settle(limit, "a", { signal: AbortSignal.abort(reason) });
    expect(ending).toEqual({ ok: false, err: reason });
    expect(inner.pending).toEqual([]);
    expect(limit.counts.inFlight).toBe(0);
  });

  it("frees the place of a request that fails, and passes the failure on", async () => {
    const { inner, limit } = setUp(1);
    const failing = track(limit.instantQuery("a", {}));
    const next = track(limit.seriesNames({}));
    await vi.advanceTimersByTimeAsync(0);
    const err = new Error("upstream down");
    inner.pending.shift()?.fail(err);
    await vi.advanceTimersByTimeAsync(0);
    expect(failing.ending).toEqual({ ok: false, err });
    expect(inner.pending.map((p) => p.what)).toEqual(["series"]);
    await inner.answerNext();
    expect(next.ending).toEqual({ ok: true });
    expect(limit.counts).toEqual({ inFlight: 0, waiting: 0, refused: 0 });
  });

  it("leaks no place over many calls that succeed, fail, time out or are aborted", async () => {
    const { inner, limit } = setUp(3, 100);
    const controller = new AbortController();
    const calls = Array.from({ length: 30 }, (_, i) =>
      track(limit.instantQuery(`q${i}`, i % 5 === 0 ? { signal: controller.signal } : {})),
    );
    await vi.advanceTimersByTimeAsync(0);
    let i = 0;
    while (inner.pending.length > 0 && i < 10) {
      if (i % 2 === 0) await inner.answerNext();
      else {
        inner.pending.shift()?.fail(new Error("x"));
        await vi.advanceTimersByTimeAsync(0);
      }
      i++;
    }
    controller.abort(new Error("gone"));
    await vi.advanceTimersByTimeAsync(100);
    while (inner.pending.length > 0) await inner.answerNext();
    expect(calls.every((c) => c.ending !== undefined)).toBe(true);
    expect(limit.counts.refused).toBeGreaterThan(0);
    expect(limit.counts).toMatchObject({ inFlight: 0, waiting: 0 });
    // Every place is free again: the cap's worth of calls goes at once.
    const again = ["x", "y", "z"].map((q) => limit.instantQuery(q, {}));
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.pending.map((p) => p.what)).toEqual(["x", "y", "z"]);
    while (inner.pending.length > 0) await inner.answerNext();
    await Promise.all(again);
  });

  it("passes the request on unchanged, and the inner datasource's name, labels and lengths", async () => {
    const inner = new HeldDatasource();
    const spy = vi.spyOn(inner, "instantQuery");
    const limit = new UpstreamLimit(inner, { maxInFlight: 1, queueTimeoutMs: 1 });
    const options = { time: 12, deadline: Date.now() + 5000, signal: new AbortController().signal };
    const call = limit.instantQuery("up", options);
    await vi.advanceTimersByTimeAsync(0);
    await inner.answerNext();
    await call;
    expect(spy).toHaveBeenCalledWith("up", options);
    expect([limit.name, limit.labels, limit.maxQueryLength, limit.queryLength("abc")]).toEqual([
      "prometheus",
      inner.labels,
      undefined,
      3,
    ]);
  });
});

/** Starts a call and lets the timers at 0 ms run: how it ended, if it did. */
async function settle(limit: UpstreamLimit, promql: string, options: CallOptions = {}): Promise<Ending> {
  const state = track(limit.instantQuery(promql, options));
  await vi.advanceTimersByTimeAsync(0);
  if (state.ending === undefined) throw new Error("the call did not end");
  return state.ending;
}
