/**
 * The service's limits against the real test Prometheus:
 *  1. The cap on upstream queries in flight (max_concurrent_upstream_queries = 2), with Prometheus
 *     slowed by a delaying TCP proxy: calls beyond the cap wait their turn; those no place reaches
 *     within upstream_queue_timeout get RESOURCE_EXHAUSTED (UPSTREAM_QUERY_LIMIT) naming the
 *     options, the others answer; the self-metrics show places, waiting calls and refusals; and
 *     identical calls coalesced into one query take one place between them.
 *  2. A request message over 1 MiB: RESOURCE_EXHAUSTED naming the byte limit, over gRPC and over
 *     Connect JSON. (Batch size: batch.test.ts; period and name length: request-validation.test.ts.)
 *  3. Prometheus's own `timeout` parameter, sent from the caller's deadline: a deliberately expensive
 *     query comes back as Prometheus's own timeout error before the deadline instead of running on
 *     (about 4 s without one), by GET and by POST; a cheap query with the same deadline answers.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { PrometheusDatasource } from "../../src/datasource/prometheus.js";
import { isMetricsAccessError } from "../../src/errors.js";
import { callError, type Options, startTestApp, type TestApp } from "../support/app.js";
import { type DelayProxy, startDelayProxy } from "../support/delay-proxy.js";
import { asEnvironment } from "../support/environment.js";
import { SAMPLE_FLEET } from "../support/fleet.js";

const stack = inject("stack");
const PROMETHEUS: Options = {
  "watcher_datasources.datasources": "prometheus",
  "prometheus_client.host": stack.prometheus.host,
  "prometheus_client.port": String(stack.prometheus.port),
};
const INSTANCE = SAMPLE_FLEET.vms[0]?.uuid ?? "";
/** Each chunk's delay each way: one query through the proxy takes a little over twice this. */
const DELAY_MS = 600;
const QUEUE_TIMEOUT_S = 1.8;
const MAX_REQUEST_BYTES = 1024 * 1024;

/** One call's end: "OK" or the code's name, with its reason and message and when it ended. */
interface Ending {
  readonly code: string;
  readonly reason: string | null;
  readonly message: string;
  readonly ms: number;
}

async function ending(call: Promise<unknown>, started: number): Promise<Ending> {
  try {
    await call;
    return { code: "OK", reason: null, message: "", ms: performance.now() - started };
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    return {
      code: Code[err.code],
      reason: err.metadata.get("x-error-reason"),
      message: err.rawMessage,
      ms: performance.now() - started,
    };
  }
}

/** The value of an unlabelled family on /metrics. */
async function scraped(service: TestApp, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.app.adminPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no ${name} on /metrics`);
  return Number(line.slice(name.length + 1));
}

describe("the cap on upstream queries in flight", () => {
  let proxy: DelayProxy;
  let service: TestApp;

  beforeAll(async () => {
    proxy = await startDelayProxy({
      targetHost: stack.prometheus.host,
      targetPort: stack.prometheus.port,
      delayMs: 0,
    });
    service = await startTestApp({
      ...PROMETHEUS,
      "prometheus_client.host": proxy.host,
      "prometheus_client.port": String(proxy.port),
      "metrics_access.max_concurrent_upstream_queries": "2",
      "metrics_access.upstream_queue_timeout": String(QUEUE_TIMEOUT_S),
    });
    // Started (and ready) at full speed; slowed from here on.
    proxy.setDelay(DELAY_MS);
  });

  afterAll(async () => {
    await service?.stop();
    await proxy?.close();
  });

  /** A call whose query no other call sends (its own period), with a deadline that never binds. */
  const distinct = (i: number) =>
    service.client.getInstanceMetric(
      { instanceId: INSTANCE, metric: "instance_cpu_usage", period: { seconds: BigInt(300 + i) } },
      { timeoutMs: 20_000 },
    );

  it("lets calls beyond it wait their turn, and refuses those no place reaches in time, naming the options", async () => {
    const started = performance.now();
    const calls = Array.from({ length: 6 }, (_, i) => ending(distinct(i), started));
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS / 2));
    expect(await scraped(service, "metrics_access_upstream_queries_in_flight")).toBe(2);
    expect(await scraped(service, "metrics_access_upstream_queries_waiting")).toBe(4);
    const ended = await Promise.all(calls);

    const ok = ended.filter((e) => e.code === "OK");
    const refused = ended.filter((e) => e.code !== "OK");
    // Two at once; two more when those answer (about 2 × DELAY_MS); the last two would get a place
    // only after about 4 × DELAY_MS, past the queue timeout.
    expect(ok).toHaveLength(4);
    expect(ok.filter((e) => e.ms > 3 * DELAY_MS)).toHaveLength(2);
    expect(refused).toHaveLength(2);
    for (const e of refused) {
      expect(e).toMatchObject({
        code: "ResourceExhausted",
        reason: "UPSTREAM_QUERY_LIMIT",
        message: `upstream query limit reached: 2 queries in flight ([metrics_access] max_concurrent_upstream_queries) and no place freed within ${QUEUE_TIMEOUT_S} s ([metrics_access] upstream_queue_timeout)`,
      });
      expect(e.ms).toBeGreaterThanOrEqual(QUEUE_TIMEOUT_S * 1000 - 50);
    }
    expect(await scraped(service, "metrics_access_upstream_queries_refused_total")).toBe(2);
    expect(await scraped(service, "metrics_access_upstream_queries_in_flight")).toBe(0);
    expect(await scraped(service, "metrics_access_upstream_queries_waiting")).toBe(0);
    // A refusal is the caller's to retry later, not a server fault: logged as "call refused".
    expect(
      service.logs.filter((l) => l.msg === "call refused" && l.reason === "UPSTREAM_QUERY_LIMIT"),
    ).toHaveLength(2);
  });

  it("gives up on a waiting call shortly before its deadline, when that comes before the queue timeout", async () => {
    const started = performance.now();
    const holding = [distinct(200), distinct(201)].map((c) => ending(c, started));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const hurried = await ending(
      service.client.getInstanceMetric(
        { instanceId: INSTANCE, metric: "instance_cpu_usage", period: { seconds: 202n } },
        { timeoutMs: 1000 },
      ),
      performance.now(),
    );
    expect(hurried).toMatchObject({
      code: "ResourceExhausted",
      reason: "UPSTREAM_QUERY_LIMIT",
      message:
        "upstream query limit reached: 2 queries in flight ([metrics_access] max_concurrent_upstream_queries) and no place freed before the call's deadline",
    });
    // 200 ms before the deadline: the refusal reaches the caller while it still listens (after the
    // deadline, the caller would have seen DEADLINE_EXCEEDED, not this refusal).
    expect(hurried.ms).toBeGreaterThanOrEqual(750);
    expect((await Promise.all(holding)).map((e) => e.code)).toEqual(["OK", "OK"]);
  });

  it("takes one place for identical calls coalesced into one query", async () => {
    const started = performance.now();
    const same = () =>
      service.client.getInstanceMetric(
        { instanceId: INSTANCE, metric: "instance_ram_usage" },
        { timeoutMs: 20_000 },
      );
    // Two distinct queries hold both places; the six identical calls wait as one.
    const calls = [distinct(100), distinct(101), ...Array.from({ length: 6 }, same)].map((c) =>
      ending(c, started),
    );
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS / 2));
    expect(await scraped(service, "metrics_access_upstream_queries_waiting")).toBe(1);
    const ended = await Promise.all(calls);
    expect(ended.map((e) => e.code)).toEqual(ended.map(() => "OK"));
  });
});

describe("the request size limit", () => {
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp(PROMETHEUS);
  });

  afterAll(async () => {
    await service?.stop();
  });

  const tooLarge = { host: "h".repeat(MAX_REQUEST_BYTES + 1), metric: "host_cpu_usage" };

  it("refuses a gRPC request over 1 MiB with RESOURCE_EXHAUSTED naming the byte limit", async () => {
    const err = await callError(service.client.getHostMetric(tooLarge));
    expect(Code[err.code]).toBe("ResourceExhausted");
    expect(err.rawMessage).toContain(`${MAX_REQUEST_BYTES}`);
  });

  it("refuses a Connect JSON request over 1 MiB the same way", async () => {
    const res = await fetch(`${service.url}/metricsaccess.v1.MetricsService/GetHostMetric`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(tooLarge),
    });
    const body = (await res.json()) as { code?: string; message?: string };
    expect(body.code).toBe("resource_exhausted");
    expect(body.message).toContain(`${MAX_REQUEST_BYTES}`);
  });
});

describe("Prometheus's own timeout, from the caller's deadline", () => {
  /**
   * Long to evaluate, step by step: a subquery of 7.2 million 1 ms steps that is not step-invariant
   * (Prometheus 2.42 looks at the timeout between steps; a step-invariant or range-function loop it
   * would not stop). About 4 s and 2 GB in Prometheus to the end; a timeout stops it early, its
   * memory with it. (Longer ranges can take Prometheus's memory beyond what a test should risk.)
   */
  const EXPENSIVE = "count_over_time(vector(time())[2h:1ms])";
  const DEADLINE_MS = 2000;
  /** What Prometheus is given: the deadline less the answer's way back (src/datasource/prometheus.ts). */
  const TIMEOUT_MS = DEADLINE_MS - 200;
  let datasource: PrometheusDatasource;

  beforeAll(() => {
    const config = loadConfig({ argv: [], env: asEnvironment(PROMETHEUS), readFile: () => Buffer.alloc(0) });
    if (config.datasource.kind !== "prometheus") throw new Error("not direct Prometheus");
    datasource = new PrometheusDatasource(config.datasource);
  });

  afterAll(async () => {
    await datasource?.close();
  });

  /** How the query ends with a deadline `ms` from now: Prometheus's own error text, and when. */
  async function withDeadline(promql: string, ms: number): Promise<{ cause: string; ms: number }> {
    const started = performance.now();
    const err = await datasource.instantQuery(promql, { deadline: Date.now() + ms }).then(
      () => new Error("expected Prometheus to give up"),
      (e: unknown) => e,
    );
    if (!isMetricsAccessError(err)) throw err;
    expect(err).toMatchObject({ code: "deadline_exceeded", reason: "UPSTREAM_TIMEOUT" });
    return { cause: String(err.cause), ms: performance.now() - started };
  }

  it.each([
    ["GET", EXPENSIVE],
    // Over 2048 encoded characters: POSTed as a form, the timeout in the body.
    ["POST", `${EXPENSIVE} or label_replace(vector(0), "pad", "${"p".repeat(2100)}", "", "")`],
  ])(
    "stops an expensive query sent by %s before the deadline, with its own timeout error",
    async (_how, promql) => {
      const ended = await withDeadline(promql, DEADLINE_MS);
      expect(ended.cause).toContain("HTTP 503: timeout: query timed out in expression evaluation");
      // Prometheus evaluated for the time it was given (no later bound: how soon the answer comes
      // back depends on the machine's load, which a benchmark measures, not a test).
      expect(ended.ms).toBeGreaterThan(TIMEOUT_MS - 50);
    },
  );

  it("answers a cheap query with the same deadline", async () => {
    const samples = await datasource.instantQuery("vector(1)", { deadline: Date.now() + DEADLINE_MS });
    expect(samples.map((s) => s.value)).toEqual(["1"]);
  });
});
