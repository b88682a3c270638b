import { describe, expect, it } from "vitest";
import type { ActiveTarget, Datasource, QueryOptions, Sample } from "./datasource.js";
import { SharedQueries } from "./shared-queries.js";

/** Records every query it is sent and answers each after `release()`. */
class RecordingDatasource implements Datasource {
  readonly name = "prometheus";
  readonly labels = { fqdn: "fqdn", instanceUuid: "resource" };
  readonly maxQueryLength = undefined;
  readonly sent: { promql: string; time: number | undefined; signal: AbortSignal | undefined }[] = [];
  readonly #pending: (() => void)[] = [];

  instantQuery(promql: string, options: QueryOptions): Promise<Sample[]> {
    this.sent.push({ promql, time: options.time, signal: options.signal });
    return new Promise((resolve) =>
      this.#pending.push(() =>
        resolve([{ labels: {}, timestamp: options.time ?? 0, value: String(this.sent.length) }]),
      ),
    );
  }

  release(): void {
    for (const answer of this.#pending.splice(0)) answer();
  }

  queryLength(promql: string): number {
    return promql.length;
  }

  async activeTargets(): Promise<ActiveTarget[]> {
    return [];
  }

  async seriesNames(): Promise<string[]> {
    return [];
  }

  async projectScope(): Promise<string | undefined> {
    return undefined;
  }
  probes = 0;

  async probe(): Promise<void> {
    this.probes++;
  }

  async close(): Promise<void> {}
}

describe("SharedQueries", () => {
  it("sends an identical query in flight once and shares the answer; a different one goes alone", async () => {
    const inner = new RecordingDatasource();
    const shared = new SharedQueries(inner, { cacheTtlMs: 0 });
    const calls = [
      shared.instantQuery("up", {}),
      shared.instantQuery("up", {}),
      shared.instantQuery("down", {}),
    ];
    inner.release();
    const answers = await Promise.all(calls);
    expect(inner.sent.map((s) => s.promql)).toEqual(["up", "down"]);
    expect(answers[0]).toBe(answers[1]);
    expect(shared.counts).toEqual({ cacheHits: 0, cacheMisses: 0, coalesced: 1 });
    expect(inner.sent[0]?.time).toBeUndefined();
  });

  it("without the cache, asks again once the first answer is in", async () => {
    const inner = new RecordingDatasource();
    const shared = new SharedQueries(inner, { cacheTtlMs: 0 });
    const first = shared.instantQuery("up", {});
    inner.release();
    await first;
    const second = shared.instantQuery("up", {});
    inner.release();
    await second;
    expect(inner.sent).toHaveLength(2);
  });

  it("with a TTL, evaluates at the aligned time and serves the answer until the step ends", async () => {
    let now = 1_700_000_012_345;
    const inner = new RecordingDatasource();
    const shared = new SharedQueries(inner, { cacheTtlMs: 10_000, now: () => now });
    const first = shared.instantQuery("up", {});
    inner.release();
    const answer = await first;
    expect(inner.sent[0]?.time).toBe(1_700_000_010);
    now += 7_000;
    expect(await shared.instantQuery("up", {})).toBe(answer);
    now += 1_000;
    const next = shared.instantQuery("up", {});
    inner.release();
    await next;
    expect(inner.sent.map((s) => s.time)).toEqual([1_700_000_010, 1_700_000_020]);
    expect(shared.counts).toEqual({ cacheHits: 1, cacheMisses: 2, coalesced: 0 });
  });

  it("keeps at most maxEntries answers, dropping the oldest", async () => {
    const inner = new RecordingDatasource();
    const shared = new SharedQueries(inner, { cacheTtlMs: 60_000, maxEntries: 2, now: () => 0 });
    for (const q of ["a", "b", "c"]) {
      const p = shared.instantQuery(q, {});
      inner.release();
      await p;
    }
    const again = shared.instantQuery("a", {});
    inner.release();
    await again;
    expect(inner.sent.map((s) => s.promql)).toEqual(["a", "b", "c", "a"]);
    await shared.instantQuery("c", {});
    expect(inner.sent).toHaveLength(4);
  });

  it("aborts the upstream request only when every caller of a shared query has gone", async () => {
    const inner = new RecordingDatasource();
    const shared = new SharedQueries(inner, { cacheTtlMs: 0 });
    const a = new AbortController();
    const b = new AbortController();
    const first = shared.instantQuery("up", { signal: a.signal });
    const second = shared.instantQuery("up", { signal: b.signal });
    a.abort(new Error("a left"));
    await expect(first).rejects.toThrow("a left");
    expect(inner.sent[0]?.signal?.aborted).toBe(false);
    b.abort(new Error("b left"));
    await expect(second).rejects.toThrow("b left");
    expect(inner.sent[0]?.signal?.aborted).toBe(true);
  });

  it("passes the readiness probe through", async () => {
    const inner = new RecordingDatasource();
    await new SharedQueries(inner, { cacheTtlMs: 1000 }).probe({});
    expect(inner.probes).toBe(1);
  });
});
