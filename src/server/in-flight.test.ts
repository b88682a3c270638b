import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { InFlightCalls } from "./in-flight.js";

describe("InFlightCalls", () => {
  it("cancels the calls in flight, not those that ended, and starts later ones cancelled", () => {
    const calls = new InFlightCalls();
    const ended = calls.begin();
    const running = calls.begin();
    calls.end(ended);
    expect(calls.size).toBe(1);
    const reason = new ConnectError("server shutting down", Code.Unavailable);
    calls.cancelAll(reason);
    expect(ended.signal.aborted).toBe(false);
    expect(running.signal.reason).toBe(reason);
    expect(calls.begin().signal.reason).toBe(reason);
    expect(calls.size).toBe(0);
  });

  it("puts no listener on a shared signal: many calls, no MaxListenersExceededWarning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const calls = new InFlightCalls();
    const started = Array.from({ length: 100 }, () => calls.begin());
    calls.cancelAll(new ConnectError("server shutting down", Code.Unavailable));
    await new Promise((r) => setTimeout(r, 10));
    process.off("warning", onWarning);
    expect(started.every((c) => c.signal.aborted)).toBe(true);
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });
});
