/**
 * caller_auth = mtls against the real Prometheus: callers of MetricsService present a client
 * certificate signed by tls_client_cafile, and, with tls_client_allowed_subjects, one of the listed
 * subjects (a SPIFFE ID here). grpc-js over HTTP/2 and undici over HTTP/1.1 (Connect JSON) are
 * judged alike; health stays open to a probe without a certificate.
 */
import { readFile } from "node:fs/promises";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { type Options, startTestApp, type TestApp } from "../support/app.js";
import { closeClient, grpc, grpcClient, metadataValue, unary } from "../support/interop-grpc.js";
import { createTestPki, ENGINE_SPIFFE_ID, type TestPki } from "../support/tls-material.js";

const stack = inject("stack");
const REQUEST = { host: "compute-1.example", metric: "host_cpu_usage" } as const;
const GET_HOST_METRIC = "metricsaccess.v1.MetricsService/GetHostMetric";

let pki: TestPki;
/** Another CA's PKI: its client certificate is not one the service's client CA signed. */
let foreign: TestPki;
let anyClient: TestApp;
let enginesOnly: TestApp;

beforeAll(async () => {
  [pki, foreign] = await Promise.all([
    createTestPki({ prefix: "metrics-access-mtls-" }),
    createTestPki({ prefix: "metrics-access-mtls-foreign-" }),
  ]);
  const options: Options = {
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
    "metrics_access.tls_certfile": pki.serverCertFile,
    "metrics_access.tls_keyfile": pki.serverKeyFile,
    "metrics_access.caller_auth": "mtls",
    "metrics_access.tls_client_cafile": pki.caFile,
  };
  [anyClient, enginesOnly] = await Promise.all([
    startTestApp(options),
    startTestApp({ ...options, "metrics_access.tls_client_allowed_subjects": ENGINE_SPIFFE_ID }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([anyClient?.stop(), enginesOnly?.stop()]);
  await Promise.allSettled([pki?.remove(), foreign?.remove()]);
});

/** A GetHostMetric from grpc-js with `identity` (a client certificate and key), or none. */
async function call(service: TestApp, identity?: { cert: string; key: string }) {
  const credentials =
    identity === undefined
      ? grpc.credentials.createSsl(pki.ca)
      : grpc.credentials.createSsl(pki.ca, await readFile(identity.key), await readFile(identity.cert));
  const client = grpcClient(`127.0.0.1:${service.app.port}`, credentials);
  try {
    return await unary(client, MetricsService.method.getHostMetric, REQUEST, { timeoutMs: 10_000 });
  } finally {
    closeClient(client);
  }
}

const CLIENT = () => ({ cert: pki.clientCertFile, key: pki.clientKeyFile });
const ENGINE = () => ({ cert: pki.engineCertFile, key: pki.engineKeyFile });
const FOREIGN = () => ({ cert: foreign.clientCertFile, key: foreign.clientKeyFile });

describe("caller_auth = mtls", () => {
  it("answers a caller whose certificate the client CA signed", async () => {
    const out = await call(anyClient, CLIENT());
    expect(out.code, out.details).toBe(grpc.status.OK);
    expect(out.response?.result?.value).toBeCloseTo(31.25, 6);
  });

  it("refuses a caller without a certificate: UNAUTHENTICATED, CALLER_CREDENTIALS_MISSING", async () => {
    const out = await call(anyClient);
    expect(out.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(out.details).toBe(
      "a client certificate is required: this service admits callers by mutual TLS (caller_auth = mtls)",
    );
    expect(metadataValue(out, "x-error-reason")).toBe("CALLER_CREDENTIALS_MISSING");
  });

  it("refuses a certificate another CA signed: UNAUTHENTICATED, naming OpenSSL's reason", async () => {
    const out = await call(anyClient, FOREIGN());
    expect(out.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(out.details).toMatch(/^client certificate not accepted \([A-Z_]+\)$/);
    expect(metadataValue(out, "x-error-reason")).toBe("CALLER_CREDENTIALS_INVALID");
  });

  it("admits only the listed SPIFFE ID when tls_client_allowed_subjects names it", async () => {
    const engine = await call(enginesOnly, ENGINE());
    expect(engine.code, engine.details).toBe(grpc.status.OK);
    const other = await call(enginesOnly, CLIENT());
    expect(other.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(other.details).toBe(
      "client certificate (CN=metrics-access test client) is not among the subjects this service admits ([metrics_access] tls_client_allowed_subjects)",
    );
    expect(metadataValue(other, "x-error-reason")).toBe("CALLER_NOT_ALLOWED");
  });

  it("judges Connect JSON over HTTP/1.1 by the same certificate rules", async () => {
    const ask = async (identity?: { cert: string; key: string }) => {
      const tls =
        identity === undefined
          ? { ca: pki.ca }
          : { ca: pki.ca, cert: await readFile(identity.cert), key: await readFile(identity.key) };
      const agent = new Agent({ connect: tls });
      try {
        const res = await undiciFetch(`https://127.0.0.1:${enginesOnly.app.port}/${GET_HOST_METRIC}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(REQUEST),
          dispatcher: agent,
        });
        return { status: res.status, body: (await res.json()) as { code?: string } };
      } finally {
        await agent.close();
      }
    };
    expect((await ask(ENGINE())).status).toBe(200);
    expect((await ask()).body.code).toBe("unauthenticated");
    expect((await ask(CLIENT())).body.code).toBe("permission_denied");
  });

  it("keeps the health service open to a probe without a certificate", async () => {
    const client = grpcClient(`127.0.0.1:${anyClient.app.port}`, grpc.credentials.createSsl(pki.ca));
    try {
      const out = await unary(client, Health.method.check, { service: "" }, { timeoutMs: 10_000 });
      expect(out.code, out.details).toBe(grpc.status.OK);
    } finally {
      closeClient(client);
    }
  });
});
