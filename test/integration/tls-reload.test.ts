/**
 * Certificate rotation ([metrics_access] tls_reload_interval): the service serves TLS with a
 * certificate from one private CA (openssl), the files are replaced with another CA's while a
 * connection is open and a call is half sent; the open connection and the call go on with the old
 * certificate, new connections get the new one. A rotation caught half way (the certificate
 * without its key) keeps the current certificate and says so in the log.
 */
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, renameSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { type ClientHttp2Stream, connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeClient, grpc, grpcClient, unary } from "../support/interop-grpc.js";
import { grpcFrame } from "../support/raw-grpc.js";
import { createTestPki, type TestPki } from "../support/tls-material.js";

const stack = inject("stack");
const GET_HOST_METRIC = MetricsService.method.getHostMetric;
const REQUEST = { host: "compute-1.example", metric: "host_cpu_usage" } as const;
const RELOADED = "TLS files reloaded: new connections get the new certificate, open ones keep theirs";
const UNUSABLE = "new TLS files cannot be used: keeping the current ones";

let dir: string;
let a: TestPki;
let b: TestPki;
let certFile: string;
let keyFile: string;
let service: TestApp;
let port: number;

beforeAll(async () => {
  [a, b] = await Promise.all([
    createTestPki({ prefix: "metrics-access-rotate-a-" }),
    createTestPki({ prefix: "metrics-access-rotate-b-" }),
  ]);
  dir = await mkdtemp(join(tmpdir(), "metrics-access-rotate-"));
  certFile = join(dir, "tls.crt");
  keyFile = join(dir, "tls.key");
  copyFileSync(a.serverCertFile, certFile);
  copyFileSync(a.serverKeyFile, keyFile);
  service = await startTestApp({
    "prometheus_client.host": stack.prometheus.host,
    "prometheus_client.port": String(stack.prometheus.port),
    "metrics_access.tls_certfile": certFile,
    "metrics_access.tls_keyfile": keyFile,
    "metrics_access.tls_reload_interval": "0.2",
  });
  port = service.app.port;
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([rm(dir, { recursive: true, force: true }), a?.remove(), b?.remove()]);
});

const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

/** Puts `pki`'s server pair in place the way a careful operator does: beside, then renamed, key first. */
function install(pki: TestPki, what: "both" | "certificate only" = "both"): void {
  if (what === "both") {
    copyFileSync(pki.serverKeyFile, `${keyFile}.new`);
    renameSync(`${keyFile}.new`, keyFile);
  }
  copyFileSync(pki.serverCertFile, `${certFile}.new`);
  renameSync(`${certFile}.new`, certFile);
}

/** Waits for the `nth` log line with `msg`. */
async function logged(msg: string, nth: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = service.logs.filter((l) => l.msg === msg);
    const line = found[nth - 1];
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line "${msg}" #${nth}:\n${service.rawLog()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The certificate a new TLS connection is served. */
async function servedFingerprint(): Promise<string> {
  const socket = tlsConnect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false });
  try {
    await new Promise((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

/** grpc-js on a new channel trusting only `ca`: the status of one GetHostMetric call. */
async function callTrusting(ca: Buffer): Promise<grpc.status> {
  const client = grpcClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(ca));
  try {
    return (await unary(client, GET_HOST_METRIC, REQUEST, { timeoutMs: 10_000 })).code;
  } finally {
    closeClient(client);
  }
}

/** The gRPC answer on a raw stream: status and value. */
function answerOf(stream: ClientHttp2Stream): Promise<{ status: string; value: number | undefined }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = "";
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("trailers", (t) => {
      status = String(t["grpc-status"]);
    });
    stream.on("error", reject);
    stream.on("close", () => {
      const body = Buffer.concat(chunks);
      const value =
        body.length > 5 ? fromBinary(GET_HOST_METRIC.output, body.subarray(5)).result?.value : undefined;
      resolve({ status, value });
    });
  });
}

describe("certificate rotation", () => {
  it("serves new connections the new certificate while an open connection and its call in flight go on", async () => {
    const session = http2Connect(`https://localhost:${port}`, { ca: [a.ca, b.ca] });
    session.on("error", () => {});
    const open = grpcClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(a.ca));
    try {
      expect(await servedFingerprint()).toBe(fingerprintOf(a.serverCertFile));
      expect((await unary(open, GET_HOST_METRIC, REQUEST, { timeoutMs: 10_000 })).code).toBe(grpc.status.OK);
      // A call whose request is not finished yet: headers now, the message after the rotation.
      const inFlight = session.request({
        ":method": "POST",
        ":path": `/${GET_HOST_METRIC.parent.typeName}/${GET_HOST_METRIC.name}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      const answer = answerOf(inFlight);
      // On a connected session the stream is opened at once; otherwise once connected.
      if (inFlight.pending) await new Promise((resolve) => inFlight.once("ready", resolve));

      install(b);
      const line = await logged(RELOADED, 1);
      expect(line).toMatchObject({
        level: "info",
        subject: "CN=localhost",
        fingerprint256: fingerprintOf(b.serverCertFile),
        clientCa: false,
      });

      inFlight.end(grpcFrame(toBinary(GET_HOST_METRIC.input, create(GET_HOST_METRIC.input, REQUEST))));
      const finished = await answer;
      expect(finished.status).toBe("0");
      expect(finished.value).toBeCloseTo(31.25, 6);
      // The open connection still has the old certificate, and still serves.
      const tlsSocket = session.socket as unknown as { getPeerCertificate(): { fingerprint256: string } };
      expect(tlsSocket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(a.serverCertFile));
      expect((await unary(open, GET_HOST_METRIC, REQUEST, { timeoutMs: 10_000 })).code).toBe(grpc.status.OK);
      // New connections get the new one: a client trusting only the new CA is served, one
      // trusting only the old CA is turned away.
      expect(await servedFingerprint()).toBe(fingerprintOf(b.serverCertFile));
      expect(await callTrusting(b.ca)).toBe(grpc.status.OK);
      expect(await callTrusting(a.ca)).toBe(grpc.status.UNAVAILABLE);
      expect(service.rawLog()).not.toContain("PRIVATE KEY");
    } finally {
      closeClient(open);
      session.close();
    }
  });

  it("keeps the current certificate through a half-done rotation, warns once, and loads the whole pair", async () => {
    const current = fingerprintOf(b.serverCertFile);
    expect(await servedFingerprint()).toBe(current);
    install(a, "certificate only");
    const warning = await logged(UNUSABLE, 1);
    expect(warning).toMatchObject({ level: "warn", files: [certFile, keyFile] });
    expect(String(warning.problem)).toMatch(/key values mismatch/);
    await new Promise((r) => setTimeout(r, 600));
    expect(service.logs.filter((l) => l.msg === UNUSABLE)).toHaveLength(1);
    expect(await servedFingerprint()).toBe(current);
    expect(await callTrusting(b.ca)).toBe(grpc.status.OK);

    install(a);
    expect(await logged(RELOADED, 2)).toMatchObject({ fingerprint256: fingerprintOf(a.serverCertFile) });
    expect(await servedFingerprint()).toBe(fingerprintOf(a.serverCertFile));
    expect(await callTrusting(a.ca)).toBe(grpc.status.OK);
  });
});
