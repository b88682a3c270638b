/**
 * The service speaking TLS ([metrics_access] tls_certfile, tls_keyfile) with a certificate from a
 * private CA made here with openssl: gRPC over HTTP/2 (grpc-js) and Connect JSON over HTTP/1.1
 * (undici) on the same port, both trusting that CA; a plaintext client is turned away.
 */
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const stack = inject("stack");
const GET_HOST_METRIC = "metricsaccess.v1.MetricsService/GetHostMetric";
const REQUEST = { host: "compute-1.example", metric: "host_cpu_usage" } as const;

let pki: TestPki;
let service: TestApp;

beforeAll(async () => {
  // Fails (never skips) when openssl is missing.
  pki = await createTestPki({ prefix: "metrics-access-tls-" });
  service = await startTestApp({
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
    "metrics_access.tls_certfile": pki.serverCertFile,
    "metrics_access.tls_keyfile": pki.serverKeyFile,
  });
});

afterAll(async () => {
  await service?.stop();
  await pki?.remove();
});

describe("TLS", () => {
  it("serves gRPC over TLS to grpc-js trusting the CA", async () => {
    const client = grpcClient(`127.0.0.1:${service.app.port}`, grpc.credentials.createSsl(pki.ca));
    try {
      const out = await unary(client, MetricsService.method.getHostMetric, REQUEST, { timeoutMs: 10_000 });
      expect(out.code, out.details).toBe(grpc.status.OK);
      expect(out.response?.result?.value).toBeCloseTo(31.25, 6);
    } finally {
      closeClient(client);
    }
  });

  it("serves Connect JSON over HTTPS HTTP/1.1 to undici trusting the CA, by IP and by name", async () => {
    const agent = new Agent({ connect: { ca: pki.ca } });
    try {
      for (const host of ["127.0.0.1", "localhost"]) {
        const res = await undiciFetch(`https://${host}:${service.app.port}/${GET_HOST_METRIC}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ host: REQUEST.host, metric: "host_cpu_usage" }),
          dispatcher: agent,
        });
        expect(res.status, host).toBe(200);
        const body = (await res.json()) as { result?: { metric?: string; value?: number } };
        expect(body.result?.metric).toBe("host_cpu_usage");
        expect(body.result?.value).toBeCloseTo(31.25, 6);
      }
    } finally {
      await agent.close();
    }
  });

  it("refuses a client that does not trust the CA", async () => {
    const client = grpcClient(`127.0.0.1:${service.app.port}`, grpc.credentials.createSsl());
    try {
      const out = await unary(client, MetricsService.method.getHostMetric, REQUEST, { timeoutMs: 5_000 });
      expect(out.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      closeClient(client);
    }
    const agent = new Agent();
    try {
      await expect(
        undiciFetch(`https://127.0.0.1:${service.app.port}/${GET_HOST_METRIC}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
          dispatcher: agent,
        }),
      ).rejects.toThrow();
    } finally {
      await agent.close();
    }
  });

  it("turns away plaintext clients", async () => {
    const client = grpcClient(`127.0.0.1:${service.app.port}`);
    try {
      const out = await unary(client, MetricsService.method.getHostMetric, REQUEST, { timeoutMs: 5_000 });
      expect(out.code).toBe(grpc.status.UNAVAILABLE);
      expect(out.response).toBeUndefined();
    } finally {
      closeClient(client);
    }
    // Plain HTTP/1.1 to the TLS port gets no Connect answer.
    const plain = await fetch(`http://127.0.0.1:${service.app.port}/${GET_HOST_METRIC}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ host: REQUEST.host, metric: "host_cpu_usage" }),
      signal: AbortSignal.timeout(5_000),
    }).then(
      (res) => res.status,
      () => "failed",
    );
    expect(plain === "failed" || plain === 400, String(plain)).toBe(true);
  });
});
