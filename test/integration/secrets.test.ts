/**
 * Secrets stay secret: no password, application-credential secret or Keystone token appears in any
 * log line, error message, error metadata or response the service produces, in successful calls,
 * failing calls, failed start-ups and configuration errors; the token goes only to Aetos.
 *
 * Tokens: the service's auth_url points at a recording proxy in front of the shared Keystone, so
 * the test knows every token Keystone issued to the service and looks for those exact values, as
 * well as for anything shaped like a fernet token. Passwords and secrets are the stack's own.
 * Failure messages name the capture and the secret's name, never the secret.
 */
import { inspect } from "node:util";
import { toJsonString } from "@bufbuild/protobuf";
import { type CallOptions, Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  Aggregate,
  type GetHostMetricResponse,
  GetHostMetricResponseSchema,
  type GetInstanceMetricResponse,
  GetInstanceMetricResponseSchema,
  type ListHostsResponse,
  ListHostsResponseSchema,
} from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import {
  aetosAppCredentialOptions,
  aetosPasswordOptions,
  FERNET_TOKEN,
  issuedTokens,
  type RecordingProxy,
  startRecordingProxy,
  tokenIssuedLines,
} from "../support/aetos-harness.js";
import { type Options, type TestApp, tryStartTestApp } from "../support/app.js";
import { iniText, runMain } from "../support/interop-process.js";
import { freePort } from "../support/processes.js";

const stack = inject("stack");
const HOST = "compute-1.example";
const VM_B = "22222222-2222-4222-8222-222222222222";
const WRONG_PASSWORD = "wrong-pw-4d1c9e7a";
const PROMETHEUS_USER = "prom-reader";
const PROMETHEUS_PASSWORD = "prom-basic-pw-8b2f61c3";
const CONFIG_SECRETS = {
  prometheusPasswordInFile: "cfg-prom-pw-0c7e5a19",
  malformedLine: "cfg-malformed-line-secret-2b9d",
  misspelledEnvironment: "cfg-env-typo-secret-93fa",
  appCredentialSecretInFile: "cfg-appcred-secret-6e18d4",
  unknownServiceOption: "cfg-unknown-option-secret-71c0",
};

/** Every secret the service is given somewhere in this file, by name. */
const SECRETS: Record<string, string> = {
  "watcher password": stack.watcher.password,
  "reader-a password": stack.readerA.password,
  "watcher-nocat password": stack.watcherNoCatalog.password,
  "application credential secret": stack.appCredential.secret,
  "wrong password": WRONG_PASSWORD,
  "Prometheus basic-auth password": PROMETHEUS_PASSWORD,
  "Prometheus basic-auth header value": Buffer.from(`${PROMETHEUS_USER}:${PROMETHEUS_PASSWORD}`).toString(
    "base64",
  ),
  ...CONFIG_SECRETS,
};

let ksProxy: RecordingProxy;
let promProxy: RecordingProxy;
const apps: TestApp[] = [];

/** Text the service produced, labelled by where it came from. */
class Captures {
  readonly items: { label: string; text: string }[] = [];

  add(label: string, text: string): void {
    this.items.push({ label, text });
  }

  all(): string {
    return this.items.map((i) => i.text).join("\n");
  }

  /** Runs a call, keeping its response JSON, headers, trailers, or its error in full. */
  async call<T>(
    label: string,
    run: (options: CallOptions) => Promise<T>,
    json: (res: T) => string,
  ): Promise<T | ConnectError> {
    const options: CallOptions = {
      onHeader: (h) => this.add(`${label}: response headers`, headersText(h)),
      onTrailer: (t) => this.add(`${label}: trailers`, headersText(t)),
    };
    try {
      const res = await run(options);
      this.add(`${label}: response`, json(res));
      return res;
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      this.add(
        `${label}: error`,
        [
          err.message,
          err.rawMessage,
          Code[err.code],
          headersText(err.metadata),
          JSON.stringify(err.details, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
          inspect(err, { depth: 8 }),
        ].join("\n"),
      );
      return err;
    }
  }

  /** Start-up error as main.ts would print and log it: the message and the whole error with its causes. */
  addError(label: string, err: unknown): void {
    this.add(`${label}: error message`, err instanceof Error ? err.message : String(err));
    this.add(`${label}: error in full`, inspect(err, { depth: 8 }));
  }

  /** No known secret, no token Keystone issued to the service, nothing shaped like a fernet token. */
  expectClean(): void {
    const tokens = issuedTokens(ksProxy).map((t) => t.token);
    const found: string[] = [];
    for (const { label, text } of this.items) {
      for (const [name, secret] of Object.entries(SECRETS))
        if (text.includes(secret)) found.push(`${label}: ${name}`);
      tokens.forEach((token, i) => {
        if (text.includes(token)) found.push(`${label}: Keystone token #${i}`);
      });
      if (FERNET_TOKEN.test(text)) found.push(`${label}: a string shaped like a fernet token`);
    }
    expect(found).toEqual([]);
  }
}

function headersText(headers: Headers): string {
  return [...headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
}

async function start(options: Options): Promise<TestApp> {
  const outcome = await tryStartTestApp(options);
  if (!outcome.ok) throw outcome.error;
  apps.push(outcome.app);
  return outcome.app;
}

/** Good and bad calls of every RPC, captured. */
async function exercise(app: TestApp, cap: Captures, who: string): Promise<(ConnectError | undefined)[]> {
  const hostJson = (r: GetHostMetricResponse) => toJsonString(GetHostMetricResponseSchema, r);
  const vmJson = (r: GetInstanceMetricResponse) => toJsonString(GetInstanceMetricResponseSchema, r);
  const listJson = (r: ListHostsResponse) => toJsonString(ListHostsResponseSchema, r);
  const results = [
    await cap.call(
      `${who} GetHostMetric ok`,
      (o) => app.client.getHostMetric({ host: HOST, metric: "host_cpu_usage" }, o),
      hostJson,
    ),
    await cap.call(
      `${who} GetInstanceMetric ok`,
      (o) =>
        app.client.getInstanceMetric(
          { instanceId: VM_B, metric: "instance_cpu_usage", aggregate: Aggregate.MAX, vcpus: 2 },
          o,
        ),
      vmJson,
    ),
    await cap.call(`${who} ListHosts ok`, (o) => app.client.listHosts({ pageSize: 3 }, o), listJson),
    await cap.call(
      `${who} GetHostMetric unknown host`,
      (o) => app.client.getHostMetric({ host: "no-such-host.example", metric: "host_cpu_usage" }, o),
      hostJson,
    ),
    await cap.call(
      `${who} GetHostMetric ambiguous host`,
      (o) => app.client.getHostMetric({ host: "twin", metric: "host_cpu_usage" }, o),
      hostJson,
    ),
    await cap.call(
      `${who} GetHostMetric unknown metric`,
      (o) => app.client.getHostMetric({ host: HOST, metric: "no_such_metric" }, o),
      hostJson,
    ),
    await cap.call(
      `${who} GetInstanceMetric invalid`,
      (o) => app.client.getInstanceMetric({ instanceId: "", metric: "instance_cpu_usage" }, o),
      vmJson,
    ),
    await cap.call(
      `${who} ListHosts bad page token`,
      (o) => app.client.listHosts({ pageToken: "x" }, o),
      listJson,
    ),
  ];
  return results.map((r) => (r instanceof ConnectError ? r : undefined));
}

beforeAll(async () => {
  const keystonePort = Number(new URL(stack.keystoneUrl).port);
  [ksProxy, promProxy] = await Promise.all([
    startRecordingProxy({ port: keystonePort, recordBodies: true }),
    startRecordingProxy({ port: stack.prometheus.port }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.stop()));
  await Promise.allSettled([ksProxy?.close(), promProxy?.close()]);
});

const authUrl = () => `${ksProxy.origin}/v3`;

describe("no secret or token in logs, errors or responses", () => {
  it("password auth: successful and failing calls", async () => {
    const cap = new Captures();
    const app = await start(
      aetosPasswordOptions(authUrl(), stack.watcher, { "aetos_client.region_name": "RegionOne" }),
    );
    const errors = await exercise(app, cap, "password");
    expect(errors.map((e) => e && Code[e.code])).toEqual([
      undefined,
      undefined,
      undefined,
      "NotFound",
      "FailedPrecondition",
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
    ]);
    await app.stop();
    cap.add("password: log", app.rawLog());
    // Not vacuous: the service did get a token and logged its work.
    const tokens = issuedTokens(ksProxy);
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    expect(tokens.every((t) => FERNET_TOKEN.test(t.token))).toBe(true);
    expect(tokenIssuedLines(app.logs)).toHaveLength(1);
    expect(app.logs.filter((l) => l.msg === "call")).toHaveLength(3);
    cap.expectClean();
  });

  it("the check itself catches a token, a secret and a fernet-shaped string", () => {
    const [issued] = issuedTokens(ksProxy);
    if (!issued) throw new Error("no token passed the Keystone proxy");
    for (const planted of [
      `x-subject-token: ${issued.token}`,
      `{"msg":"${stack.appCredential.secret}"}`,
      `Basic ${Buffer.from(`${PROMETHEUS_USER}:${PROMETHEUS_PASSWORD}`).toString("base64")}`,
      "gAAAAABnotarealtokenbutshapedlikeone_-0123",
    ]) {
      const cap = new Captures();
      cap.add("planted", `before ${planted} after`);
      expect(() => cap.expectClean()).toThrow();
    }
  });

  it("application-credential auth: successful and failing calls", async () => {
    const cap = new Captures();
    const before = issuedTokens(ksProxy).length;
    const app = await start(
      aetosAppCredentialOptions(authUrl(), stack.appCredential, { "aetos_client.region_name": "RegionOne" }),
    );
    const errors = await exercise(app, cap, "app credential");
    expect(errors.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    await app.stop();
    cap.add("app credential: log", app.rawLog());
    expect(issuedTokens(ksProxy).length).toBe(before + 1);
    cap.expectClean();
  });

  it("reader-only user: refused calls (UNAVAILABLE, UPSTREAM_FORBIDDEN)", async () => {
    const cap = new Captures();
    const app = await start(
      aetosPasswordOptions(authUrl(), stack.readerA, { "aetos_client.region_name": "RegionOne" }),
    );
    const errors = await exercise(app, cap, "reader");
    expect(errors[0]?.code).toBe(Code.Unavailable);
    expect(errors[2]?.code).toBe(Code.Unavailable);
    await app.stop();
    cap.add("reader: log", app.rawLog());
    expect(app.rawLog()).toContain("RBAC Authorization Failed");
    cap.expectClean();
  });

  it("failed start-ups: wrong password, Keystone unreachable, no catalog entry, wrong region, reader refused", async () => {
    const cap = new Captures();
    const closed = await freePort();
    const cases: [string, Options, string][] = [
      [
        "wrong password",
        aetosPasswordOptions(authUrl(), { ...stack.watcher, password: WRONG_PASSWORD }),
        "unavailable",
      ],
      [
        "Keystone unreachable",
        aetosPasswordOptions(`http://127.0.0.1:${closed}/v3`, stack.watcher),
        "unavailable",
      ],
      [
        "wrong app credential secret",
        aetosAppCredentialOptions(authUrl(), { id: stack.appCredential.id, secret: WRONG_PASSWORD }),
        "unavailable",
      ],
      ["no catalog entry", aetosPasswordOptions(authUrl(), stack.watcherNoCatalog), "failed_precondition"],
      [
        "wrong region",
        aetosPasswordOptions(authUrl(), stack.watcher, { "aetos_client.region_name": "Nowhere" }),
        "failed_precondition",
      ],
      [
        "reader-only with require_privileged_role",
        aetosPasswordOptions(authUrl(), stack.readerA, { "aetos_client.require_privileged_role": "true" }),
        "failed_precondition",
      ],
    ];
    const messages = new Map<string, string>();
    for (const [label, options, code] of cases) {
      const outcome = await tryStartTestApp(options);
      if (outcome.ok) {
        apps.push(outcome.app);
        throw new Error(`${label}: the service started`);
      }
      expect((outcome.error as { code?: string }).code, label).toBe(code);
      messages.set(label, outcome.error instanceof Error ? outcome.error.message : String(outcome.error));
      cap.addError(label, outcome.error);
      cap.add(`${label}: log`, outcome.rawLog());
    }
    // The refusals say whose credentials were sent: user, domain, project, or the credential.
    const w = stack.watcher;
    expect(messages.get("wrong password")).toBe(
      `Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for user "${w.username}" in domain id "${w.userDomainId}", project "${w.projectName}" in domain id "${w.projectDomainId}"`,
    );
    expect(messages.get("wrong app credential secret")).toBe(
      `Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for application credential id "${stack.appCredential.id}"`,
    );
    expect(messages.get("reader-only with require_privileged_role")).toContain(
      `user "${stack.readerA.username}" in domain id`,
    );
    cap.expectClean();
  });

  it("the real process: a refused password and a missing catalog entry (stdout and stderr)", async () => {
    const cap = new Captures();
    const before = issuedTokens(ksProxy).length;
    const listen = { "metrics_access.listen": "127.0.0.1:0" };
    const [refused, noCatalog] = await Promise.all([
      runMain({
        "watcher.conf": iniText({
          ...aetosPasswordOptions(authUrl(), { ...stack.watcher, password: WRONG_PASSWORD }),
          ...listen,
        }),
      }),
      runMain({
        "watcher.conf": iniText({ ...aetosPasswordOptions(authUrl(), stack.watcherNoCatalog), ...listen }),
      }),
    ]);
    for (const [label, result] of [
      ["refused password", refused],
      ["no catalog entry", noCatalog],
    ] as const) {
      expect(result.code, label).toBe(1);
      expect(result.stdout, label).toContain('"level":"fatal"');
      cap.add(`${label}: stdout`, result.stdout);
      cap.add(`${label}: stderr`, result.stderr);
    }
    expect(refused.stderr).toContain(
      `Keystone refused the credentials in [watcher_clients_auth] (HTTP 401) for user "${stack.watcher.username}" in domain id "${stack.watcher.userDomainId}", project "${stack.watcher.projectName}"`,
    );
    // The fatal log line carries the cause (Keystone's own answer), still without the password.
    expect(refused.stdout).toContain("HTTP 401");
    expect(noCatalog.stderr).toContain("no metric-storage endpoint");
    // The no-catalog process did get a token (its log says so) and did not print it.
    expect(issuedTokens(ksProxy).length).toBe(before + 1);
    expect(noCatalog.stdout).toContain("keystone token issued");
    cap.expectClean();
  }, 30_000);

  it("configuration errors never echo a secret (files and environment)", async () => {
    const cap = new Captures();
    const [malformedCase, prometheusCase, aetosCase] = await Promise.all([
      // A malformed file stops validation at once, so it runs on its own.
      runMain({
        "a.conf": ["[watcher_clients_auth]", `password ${CONFIG_SECRETS.malformedLine}`, ""].join("\n"),
      }),
      runMain(
        {
          "b.conf": iniText({
            "watcher_datasources.datasources": "prometheus",
            "prometheus_client.host": stack.prometheus.host,
            "prometheus_client.password": CONFIG_SECRETS.prometheusPasswordInFile,
            "metrics_access.secret": CONFIG_SECRETS.unknownServiceOption,
          }),
        },
        { env: { METRICS_ACCESS__WATCHER_CLIENTS_AUTH__PASSWROD: CONFIG_SECRETS.misspelledEnvironment } },
      ),
      runMain({
        "watcher.conf": iniText({
          "watcher_datasources.datasources": "aetos",
          "watcher_clients_auth.auth_type": "v3applicationcredential",
          "watcher_clients_auth.auth_url": stack.keystoneUrl,
          "watcher_clients_auth.application_credential_secret": CONFIG_SECRETS.appCredentialSecretInFile,
          "watcher_clients_auth.password": stack.watcher.password,
        }),
      }),
    ]);
    expect(malformedCase.code).toBe(2);
    expect(malformedCase.stderr).toContain("a.conf:2");
    expect(prometheusCase.code).toBe(2);
    expect(prometheusCase.stderr).toContain("[prometheus_client] username, password: set both or neither");
    expect(prometheusCase.stderr).toContain("METRICS_ACCESS__WATCHER_CLIENTS_AUTH__PASSWROD");
    expect(prometheusCase.stderr).toContain("[metrics_access] secret: unknown option");
    expect(aetosCase.code).toBe(2);
    expect(aetosCase.stderr).toContain(
      "[watcher_clients_auth] application_credential_id or application_credential_name: required",
    );
    for (const [label, result] of [
      ["malformed config", malformedCase],
      ["prometheus config", prometheusCase],
      ["aetos config", aetosCase],
    ] as const) {
      cap.add(`${label}: stdout`, result.stdout);
      cap.add(`${label}: stderr`, result.stderr);
    }
    cap.expectClean();
  }, 30_000);
});

describe("the token goes only to Aetos", () => {
  it("direct Prometheus with basic auth: the header reaches Prometheus, no token exists, nothing leaks", async () => {
    const cap = new Captures();
    const ksBefore = ksProxy.exchanges.length;
    const app = await start({
      "watcher_datasources.datasources": "prometheus",
      "prometheus_client.host": "127.0.0.1",
      "prometheus_client.port": String(promProxy.port),
      "prometheus_client.username": PROMETHEUS_USER,
      "prometheus_client.password": PROMETHEUS_PASSWORD,
    });
    const errors = await exercise(app, cap, "basic auth");
    expect(errors.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    await app.stop();
    cap.add("basic auth: log", app.rawLog());

    const requests = promProxy.exchanges;
    expect(requests.length).toBeGreaterThanOrEqual(3);
    const basic = `Basic ${Buffer.from(`${PROMETHEUS_USER}:${PROMETHEUS_PASSWORD}`).toString("base64")}`;
    expect(requests.map((r) => r.requestHeaders.authorization)).toEqual(requests.map(() => basic));
    expect(requests.filter((r) => "x-auth-token" in r.requestHeaders)).toEqual([]);
    expect(requests.map((r) => r.status)).toEqual(requests.map(() => 200));
    // The service never authenticated with Keystone.
    expect(tokenIssuedLines(app.logs)).toEqual([]);
    expect(app.rawLog()).not.toMatch(/keystone/i);
    expect(ksProxy.exchanges.length).toBe(ksBefore);
    cap.expectClean();
  });
});
