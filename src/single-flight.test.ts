import { describe, expect, it } from "vitest";
import { SingleFlight } from "./single-flight.js";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("SingleFlight", () => {
  it("runs the work once for every caller of a key while it is in flight, and anew afterwards", async () => {
    const flight = new SingleFlight<string, number>();
    let runs = 0;
    const gate = deferred<number>();
    const work = () => {
      runs++;
      return gate.promise;
    };
    const a = flight.run("k", work);
    const b = flight.run("k", work);
    const other = flight.run("other", async () => 2);
    expect(flight.has("k")).toBe(true);
    gate.resolve(1);
    expect(await Promise.all([a, b, other])).toEqual([1, 1, 2]);
    expect(runs).toBe(1);
    expect(flight.has("k")).toBe(false);
    await flight.run("k", async () => 3);
    expect(runs).toBe(1);
  });

  it("lets one caller stop waiting without aborting the work the others wait for", async () => {
    const flight = new SingleFlight<string, string>();
    const gate = deferred<string>();
    let workSignal: AbortSignal | undefined;
    const leaving = new AbortController();
    const staying = new AbortController();
    const first = flight.run(
      "k",
      (signal) => {
        workSignal = signal;
        return gate.promise;
      },
      leaving.signal,
    );
    const second = flight.run("k", () => gate.promise, staying.signal);
    leaving.abort(new Error("caller left"));
    await expect(first).rejects.toThrow("caller left");
    expect(workSignal?.aborted).toBe(false);
    gate.resolve("done");
    expect(await second).toBe("done");
  });

  it("aborts the work when every waiting caller has gone", async () => {
    const flight = new SingleFlight<string, string>();
    let workSignal: AbortSignal | undefined;
    const a = new AbortController();
    const b = new AbortController();
    const work = (signal: AbortSignal) => {
      workSignal = signal;
      return new Promise<string>((_resolve, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason)),
      );
    };
    const first = flight.run("k", work, a.signal);
    const second = flight.run("k", work, b.signal);
    a.abort(new Error("a"));
    expect(workSignal?.aborted).toBe(false);
    b.abort(new Error("b"));
    expect(workSignal?.aborted).toBe(true);
    await expect(first).rejects.toThrow("a");
    await expect(second).rejects.toThrow("b");
  });

  it("keeps work alive for a caller without a signal, and shares a failure with every caller", async () => {
    const flight = new SingleFlight<string, string>();
    const gate = deferred<string>();
    let workSignal: AbortSignal | undefined;
    const leaving = new AbortController();
    const keeper = flight.run("k", (signal) => {
      workSignal = signal;
      return gate.promise;
    });
    const waiter = flight.run("k", () => gate.promise, leaving.signal);
    leaving.abort(new Error("gone"));
    await expect(waiter).rejects.toThrow("gone");
    expect(workSignal?.aborted).toBe(false);
    gate.reject(new Error("upstream down"));
    await expect(keeper).rejects.toThrow("upstream down");
  });

  it("rejects at once a caller whose signal is already aborted, without starting work for it", async () => {
    const flight = new SingleFlight<string, string>();
    const aborted = AbortSignal.abort(new Error("late"));
    let runs = 0;
    await expect(
      flight.run(
        "k",
        async () => {
          runs++;
          return "x";
        },
        aborted,
      ),
    ).rejects.toThrow("late");
    expect(runs).toBe(0);
    expect(flight.has("k")).toBe(false);
  });
});
