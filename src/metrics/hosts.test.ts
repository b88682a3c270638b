import { describe, expect, it } from "vitest";
import type { ActiveTarget, CallOptions } from "../datasource/datasource.js";
import { MetricsAccessError } from "../errors.js";
import { HostDirectory } from "./hosts.js";

const INTERVAL = 10_000;

function node(fqdn: string, job = "node", instance = `${fqdn}:9100`, health = "up"): ActiveTarget {
  return { labels: { fqdn, job, instance }, health };
}

/** A loadTargets that answers from a script (the last answer repeats) and counts its calls. */
class FakeTargets {
  calls = 0;
  readonly #answers: (ActiveTarget[] | Error)[];

  constructor(...answers: (ActiveTarget[] | Error)[]) {
    this.#answers = answers;
  }

  readonly load = async (_options: CallOptions): Promise<ActiveTarget[]> => {
    const answer = this.#answers[Math.min(this.calls, this.#answers.length - 1)] ?? [];
    this.calls++;
    if (answer instanceof Error) throw answer;
    return answer;
  };
}

class Clock {
  ms = 1_000_000;
  readonly now = () => this.ms;
}

function directory(targets: FakeTargets, clock = new Clock(), label = "fqdn", interval = INTERVAL) {
  return new HostDirectory({
    label,
    loadTargets: targets.load,
    minRefreshIntervalMs: interval,
    now: clock.now,
  });
}

async function failure(promise: Promise<unknown>): Promise<MetricsAccessError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MetricsAccessError);
  return err as MetricsAccessError;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Runs fn and collects the unhandled rejections Node reports meanwhile (instead of vitest). */
async function unhandledRejectionsDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const previous = process.listeners("unhandledRejection");
  const listener = (reason: unknown) => seen.push(reason);
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", listener);
  try {
    await fn();
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  } finally {
    process.off("unhandledRejection", listener);
    for (const l of previous) process.on("unhandledRejection", l);
  }
  return seen;
}

describe("HostDirectory.resolve", () => {
  it("resolves an exact label value to itself", async () => {
    const hosts = directory(new FakeTargets([node("c1.example.com"), node("c2.example.com")]));
    expect(await hosts.resolve("c2.example.com")).toBe("c2.example.com");
  });

  it("resolves a short name to its FQDN", async () => {
    const hosts = directory(new FakeTargets([node("marios-env.controlplane.domain")]));
    expect(await hosts.resolve("marios-env")).toBe("marios-env.controlplane.domain");
  });

  it("is case sensitive, as Watcher is", async () => {
    const hosts = directory(new FakeTargets([node("c1.example.com")]));
    const err = await failure(hosts.resolve("C1.example.com"));
    expect(err.code).toBe("not_found");
  });

  it("prefers an exact value over a short name of another value", async () => {
    const hosts = directory(new FakeTargets([node("db"), node("db.example.com")]));
    expect(await hosts.resolve("db")).toBe("db");
    expect(await hosts.resolve("db.example.com")).toBe("db.example.com");
  });

  it("does not resolve an FQDN to a short-name label (there is no reverse mapping)", async () => {
    const hosts = directory(new FakeTargets([node("ena"), node("dyo")]));
    expect(await hosts.resolve("ena")).toBe("ena");
    const err = await failure(hosts.resolve("ena.example.com"));
    expect(err.code).toBe("not_found");
  });

  it("ignores targets without the label, or with an empty value", async () => {
    const targets = new FakeTargets([
      { labels: { job: "prometheus", instance: "localhost:9090" }, health: "up" },
      { labels: { job: "x", instance: "y", fqdn: "" }, health: "up" },
      node("c1.example.com"),
    ]);
    const hosts = directory(targets);
    expect((await hosts.list()).map((h) => h.labelValue)).toEqual(["c1.example.com"]);
  });

  it("reads IP addresses under a custom label name", async () => {
    const targets = new FakeTargets([
      { labels: { ip_label: "10.0.0.1", job: "node", instance: "10.0.0.1:9100" }, health: "up" },
      { labels: { ip_label: "10.0.0.2", job: "node", instance: "10.0.0.2:9100" }, health: "up" },
      { labels: { fqdn: "ignored.example.com", job: "node", instance: "z" }, health: "up" },
    ]);
    const hosts = directory(targets, new Clock(), "ip_label");
    expect(await hosts.resolve("10.0.0.2")).toBe("10.0.0.2");
    expect((await hosts.list()).map((h) => h.labelValue)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("uses the configured label name, not fqdn", async () => {
    const targets = new FakeTargets([
      { labels: { custom_fqdn_label: "c1.example.com", fqdn: "other.example.com" }, health: "up" },
    ]);
    const hosts = directory(targets, new Clock(), "custom_fqdn_label");
    expect(await hosts.resolve("c1")).toBe("c1.example.com");
    const err = await failure(hosts.resolve("other.example.com"));
    expect(err.code).toBe("not_found");
  });

  it("reloads the targets exactly once on a miss, then reports not_found naming the host", async () => {
    const clock = new Clock();
    const targets = new FakeTargets([node("c1.example.com")]);
    const hosts = directory(targets, clock);
    await hosts.resolve("c1.example.com");
    clock.ms += INTERVAL;
    const err = await failure(hosts.resolve("ghost.example.com"));
    expect(targets.calls).toBe(2);
    expect(err.code).toBe("not_found");
    expect(err.reason).toBe("HOST_NOT_FOUND");
    expect(err.message).toContain('"ghost.example.com"');
    expect(err.message).toContain("fqdn");
  });

  it("does not load twice for a miss right after the first load", async () => {
    const targets = new FakeTargets([]);
    const hosts = directory(targets);
    const err = await failure(hosts.resolve("ghost"));
    expect(err.code).toBe("not_found");
    expect(targets.calls).toBe(1);
  });

  it("reloads on every miss when the interval is zero, as Watcher does", async () => {
    const targets = new FakeTargets([]);
    const hosts = directory(targets, new Clock(), "fqdn", 0);
    await failure(hosts.resolve("ghost"));
    expect(targets.calls).toBe(2);
    await failure(hosts.resolve("ghost"));
    expect(targets.calls).toBe(3);
  });

  it("does not reload again for a miss within the refresh interval", async () => {
    const clock = new Clock();
    const targets = new FakeTargets([node("c1.example.com")]);
    const hosts = directory(targets, clock);
    await hosts.resolve("c1.example.com");
    clock.ms += INTERVAL;
    await failure(hosts.resolve("ghost"));
    expect(targets.calls).toBe(2);
    clock.ms += INTERVAL - 1;
    const err = await failure(hosts.resolve("ghost"));
    expect(err.code).toBe("not_found");
    expect(targets.calls).toBe(2);
  });

  it("reloads again once the refresh interval has passed", async () => {
    const clock = new Clock();
    const targets = new FakeTargets([node("c1.example.com")]);
    const hosts = directory(targets, clock);
    await hosts.resolve("c1.example.com");
    await failure(hosts.resolve("ghost"));
    expect(targets.calls).toBe(1);
    clock.ms += INTERVAL;
    await failure(hosts.resolve("ghost"));
    expect(targets.calls).toBe(2);
  });

  it("does not reload for hosts it already knows", async () => {
    const clock = new Clock();
    const targets = new FakeTargets([node("c1.example.com")]);
    const hosts = directory(targets, clock);
    await hosts.resolve("c1.example.com");
    clock.ms += 10 * INTERVAL;
    await hosts.resolve("c1");
    expect(targets.calls).toBe(1);
  });

  it("finds a host added after start-up once it reloads", async () => {
    const clock = new Clock();
    const targets = new FakeTargets(
      [node("c1.example.com")],
      [node("c1.example.com"), node("c9.example.com")],
    );
    const hosts = directory(targets, clock);
    await hosts.resolve("c1.example.com");
    clock.ms += INTERVAL;
    expect(await hosts.resolve("c9")).toBe("c9.example.com");
    expect(targets.calls).toBe(2);
  });

  it("rejects a short name shared by two FQDNs, naming both", async () => {
    const hosts = directory(new FakeTargets([node("twin.b.example"), node("twin.a.example")]));
    const err = await failure(hosts.resolve("twin"));
    expect(err.code).toBe("failed_precondition");
    expect(err.reason).toBe("HOST_AMBIGUOUS");
    expect(err.message).toContain('"twin.a.example", "twin.b.example"');
    expect(await hosts.resolve("twin.a.example")).toBe("twin.a.example");
  });

  it("shares one load among concurrent callers", async () => {
    const gate = deferred<ActiveTarget[]>();
    let calls = 0;
    const hosts = new HostDirectory({
      label: "fqdn",
      minRefreshIntervalMs: INTERVAL,
      loadTargets: () => {
        calls++;
        return gate.promise;
      },
    });
    const pending = [hosts.resolve("c1"), hosts.resolve("c2.example.com"), hosts.list()];
    gate.resolve([node("c1.example.com"), node("c2.example.com")]);
    const [a, b, list] = await Promise.all(pending);
    expect(a).toBe("c1.example.com");
    expect(b).toBe("c2.example.com");
    expect(list).toHaveLength(2);
    expect(calls).toBe(1);
  });

  it("passes a load error on unchanged, and tries again on the next call", async () => {
    const down = new MetricsAccessError("unavailable", "Prometheus could not be reached", {
      reason: "UPSTREAM_UNREACHABLE",
    });
    const targets = new FakeTargets(down, [node("c1.example.com")]);
    const hosts = directory(targets);
    await expect(hosts.resolve("c1")).rejects.toBe(down);
    expect(await hosts.resolve("c1")).toBe("c1.example.com");
    expect(targets.calls).toBe(2);
  });

  it("passes on an error from the reload after a miss rather than calling the host unknown", async () => {
    const clock = new Clock();
    const down = new MetricsAccessError("unavailable", "down", { reason: "UPSTREAM_FAILED" });
    const targets = new FakeTargets([node("c1.example.com")], down);
    const hosts = directory(targets, clock);
    await hosts.resolve("c1");
    clock.ms += INTERVAL;
    await expect(hosts.resolve("ghost")).rejects.toBe(down);
  });

  it("rejects a caller whose signal aborts while it waits, with the signal's reason", async () => {
    const gate = deferred<ActiveTarget[]>();
    const hosts = new HostDirectory({
      label: "fqdn",
      minRefreshIntervalMs: INTERVAL,
      loadTargets: () => gate.promise,
    });
    const controller = new AbortController();
    const reason = new Error("caller went away");
    const waiting = hosts.resolve("c1", { signal: controller.signal });
    const other = hosts.resolve("c1");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    gate.resolve([node("c1.example.com")]);
    expect(await other).toBe("c1.example.com");
  });

  it("rejects a caller whose signal is already aborted with its reason", async () => {
    const reason = new Error("already gone");
    const fresh = () => directory(new FakeTargets([node("c1.example.com")]));
    await expect(fresh().resolve("c1", { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(fresh().list({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it("leaves no unhandled rejection when a load fails after its only caller had already aborted", async () => {
    const down = new MetricsAccessError("unavailable", "down", { reason: "UPSTREAM_FAILED" });
    const hosts = directory(new FakeTargets(down));
    const reason = new Error("already gone");
    const unhandled = await unhandledRejectionsDuring(async () => {
      await expect(hosts.resolve("c1", { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });
    // Node ends the process on an unhandled rejection by default.
    expect(unhandled).toEqual([]);
  });
});

describe("HostDirectory.resolveAll", () => {
  it("resolves each name on its own, with one reload for all the misses together", async () => {
    const targets = new FakeTargets(
      [node("a.example"), node("twin.x.example"), node("twin.y.example")],
      [node("a.example"), node("b.example"), node("twin.x.example"), node("twin.y.example")],
    );
    const clock = new Clock();
    const hosts = directory(targets, clock);
    await hosts.list();
    clock.ms += INTERVAL;
    const resolved = await hosts.resolveAll(["a", "b.example", "ghost", "twin"]);
    expect(targets.calls).toBe(2);
    expect(resolved.get("a")).toEqual({ labelValue: "a.example" });
    expect(resolved.get("b.example")).toEqual({ labelValue: "b.example" });
    const ghost = resolved.get("ghost");
    const twin = resolved.get("twin");
    expect(ghost && "error" in ghost && ghost.error.reason).toBe("HOST_NOT_FOUND");
    expect(twin && "error" in twin && twin.error.reason).toBe("HOST_AMBIGUOUS");
  });

  it("does not reload when every name is known", async () => {
    const targets = new FakeTargets([node("a.example")]);
    const clock = new Clock();
    const hosts = directory(targets, clock);
    await hosts.list();
    clock.ms += INTERVAL;
    await hosts.resolveAll(["a.example", "a"]);
    expect(targets.calls).toBe(1);
  });
});

describe("HostDirectory.list", () => {
  it("lists every host once, sorted by label value, with all its targets", async () => {
    const hosts = directory(
      new FakeTargets([
        node("c3.example.com"),
        node("c1.example.com", "node", "10.0.0.1:9100"),
        node("c1.example.com", "podman", "10.0.0.1:9882", "down"),
        node("b0"),
        node("c10.example.com"),
      ]),
    );
    const list = await hosts.list();
    expect(list.map((h) => h.labelValue)).toEqual([
      "b0",
      "c1.example.com",
      "c10.example.com",
      "c3.example.com",
    ]);
    expect(list[1]).toEqual({
      labelValue: "c1.example.com",
      shortName: "c1",
      targets: [
        { job: "node", instance: "10.0.0.1:9100", health: "up" },
        { job: "podman", instance: "10.0.0.1:9882", health: "down" },
      ],
    });
  });

  it("gives a value without a dot an empty short name", async () => {
    const hosts = directory(new FakeTargets([node("ena")]));
    expect((await hosts.list())[0]?.shortName).toBe("");
  });

  it("uses empty job and instance for targets that lack them", async () => {
    const hosts = directory(new FakeTargets([{ labels: { fqdn: "c1.example.com" }, health: "unknown" }]));
    expect((await hosts.list())[0]?.targets).toEqual([{ job: "", instance: "", health: "unknown" }]);
  });

  it("serves the last load at once, and after the interval reloads in the background for the next call", async () => {
    const clock = new Clock();
    const targets = new FakeTargets(
      [node("c1.example.com")],
      [node("c1.example.com"), node("c2.example.com")],
    );
    const hosts = directory(targets, clock);
    expect(await hosts.list()).toHaveLength(1);
    clock.ms += INTERVAL - 1;
    expect(await hosts.list()).toHaveLength(1);
    expect(targets.calls).toBe(1);
    clock.ms += 1;
    // Stale: answered from the last load while one reload starts, whatever the number of callers.
    const [first, second] = await Promise.all([hosts.list(), hosts.list()]);
    expect([first.length, second.length]).toEqual([1, 1]);
    expect(targets.calls).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await hosts.list()).toHaveLength(2);
    expect(targets.calls).toBe(2);
  });

  it("keeps the last load when a background reload fails, says so, and tries again on the next call", async () => {
    const clock = new Clock();
    const targets = new FakeTargets([node("c1.example.com")], new Error("Prometheus down"), [
      node("c1.example.com"),
      node("c2.example.com"),
    ]);
    const failures: unknown[] = [];
    const hosts = new HostDirectory({
      label: "fqdn",
      loadTargets: targets.load,
      minRefreshIntervalMs: INTERVAL,
      now: () => clock.ms,
      onBackgroundFailure: (err) => failures.push(err),
    });
    await hosts.list();
    clock.ms += INTERVAL;
    expect(await hosts.list()).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([new Error("Prometheus down")]);
    expect(await hosts.list()).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await hosts.list()).toHaveLength(2);
  });
});
