import { describe, expect, it } from "vitest";
import { Readiness } from "./readiness.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Readiness", () => {
  it("reports the first probe, then only changes, and stops probing when stopped", async () => {
    const outcomes = [true, true, false, false, true];
    let probes = 0;
    const changes: boolean[] = [];
    const readiness = new Readiness({
      probe: async () => {
        const ok = outcomes[probes++] ?? true;
        if (!ok) throw new Error("down");
      },
      intervalMs: 5,
      timeoutMs: 1000,
      onChange: (ready) => changes.push(ready),
    });
    await readiness.start();
    expect(readiness.ready).toBe(true);
    expect(changes).toEqual([true]);
    while (probes < outcomes.length) await sleep(5);
    await sleep(1);
    expect(changes).toEqual([true, false, true]);
    expect(readiness.ready).toBe(true);
    readiness.stop();
    const after = probes;
    await sleep(30);
    expect(probes).toBe(after);
  });

  it("counts a probe that outlives its timeout as failed, and aborts it", async () => {
    let signal: AbortSignal | undefined;
    const errors: unknown[] = [];
    const readiness = new Readiness({
      probe: (s) => {
        signal = s;
        return new Promise((_, reject) => s.addEventListener("abort", () => reject(new Error("aborted"))));
      },
      intervalMs: 1000,
      timeoutMs: 10,
      onChange: (_ready, err) => errors.push(err),
    });
    await readiness.start();
    readiness.stop();
    expect(readiness.ready).toBe(false);
    expect(signal?.aborted).toBe(true);
    expect(String(errors[0])).toContain("no answer within 10 ms");
  });
});
