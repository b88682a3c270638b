import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as http1Request, type IncomingMessage } from "node:http";
import { type ClientHttp2Session, connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../../test/support/tls-material.js";
import type { ListenAddress, ServerTls } from "../config/types.js";
import { createLogger } from "../log.js";
import type { ConnectionLimits } from "./connection-limits.js";
import { listen, type Transport } from "./transport.js";

let transport: Transport | undefined;
afterEach(async () => {
  transport?.destroy();
  await transport?.drain();
  transport = undefined;
});

let dir: string;
let pki: TestPki;
/** Another CA, with its own server and client certificates. */
let otherPki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "metrics-access-transport-"));
  [pki, otherPki] = await Promise.all([createTestPki(), createTestPki()]);
});
afterAll(async () => {
  await Promise.all([rm(dir, { recursive: true, force: true }), pki?.remove(), otherPki?.remove()]);
});

const LOOPBACK: ListenAddress = { kind: "tcp", host: "127.0.0.1", port: 0 };

interface StartOptions {
  readonly listen?: ListenAddress;
  readonly tls?: ServerTls;
  readonly limits?: Partial<ConnectionLimits>;
}

/**
 * A transport whose handlers answer the protocol they were reached by, and over TLS whether the
 * client's certificate was verified (as the per-call check reads it).
 */
async function start(options: StartOptions = {}): Promise<Transport> {
  const peer = (socket: unknown) => {
    const tls = socket as Partial<TLSSocket>;
    if (typeof tls.getPeerCertificate !== "function") return "";
    const subject = tls.getPeerCertificate().subject?.CN ?? "-";
    return ` authorized=${String(tls.authorized)} error=${String(tls.authorizationError ?? "-")} cn=${subject}`;
  };
  transport = await listen({
    listen: options.listen ?? LOOPBACK,
    tls: options.tls,
    tlsReloadIntervalMs: 0,
    logger: createLogger("silent"),
    limits: options.limits,
    onRequest: (req, res) => {
      res.end(`HTTP/${req.httpVersion}${peer(req.socket)}`);
    },
    onStream: (stream) => {
      stream.respond({ ":status": 200 });
      stream.end(`HTTP/2.0${peer(stream.session?.socket)}`);
    },
  });
  return transport;
}

function serverTls(withClientCa = false): ServerTls {
  return {
    cert: readFileSync(pki.serverCertFile),
    key: readFileSync(pki.serverKeyFile),
    certFile: pki.serverCertFile,
    keyFile: pki.serverKeyFile,
    clientCa: withClientCa ? { pem: pki.ca, file: pki.caFile } : undefined,
  };
}

function getH2(port: number, createConnection?: () => Duplex): Promise<string> {
  return getOnce(http2Connect(`http://127.0.0.1:${port}`, createConnection ? { createConnection } : {}));
}

/** GET / on a new `session`, which is closed after. */
function getOnce(session: ClientHttp2Session): Promise<string> {
  return getOn(session).finally(() => session.close());
}

/** GET / on `session`, the body as text. */
function getOn(session: ClientHttp2Session): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const stream = session.request({ ":path": "/" });
    let text = "";
    stream.on("data", (c: Buffer) => {
      text += c.toString();
    });
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
  });
}

function getH1(port: number, socketPath?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http1Request(socketPath ? { socketPath, path: "/" } : { host: "127.0.0.1", port, path: "/" }, (res) =>
      bodyOf(res).then(resolve, reject),
    )
      .on("error", reject)
      .end();
  });
}

/** An HTTP/1.1 answer's body as text. */
function bodyOf(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.on("data", (c: Buffer) => {
      body += c.toString();
    });
    res.on("end", () => resolve(body));
    res.on("error", reject);
  });
}

/** Resolves with how long after `since` the socket closed. */
function closedAfter(socket: Socket, since: number): Promise<number> {
  return new Promise((resolve) => {
    socket.on("error", () => {});
    socket.once("close", () => resolve(Date.now() - since));
    // Whatever the server says before it closes (a GOAWAY, a 408) is read, or "close" never comes.
    socket.resume();
  });
}

describe("one plaintext port", () => {
  it("serves HTTP/1.1 and h2c side by side", async () => {
    const { port } = await start();
    expect(await getH1(port)).toBe("HTTP/1.1");
    expect(await getH2(port)).toBe("HTTP/2.0");
  });

  it("hands over an HTTP/2 connection whose preface arrives in pieces, with the bytes after it", async () => {
    const { port } = await start();
    // The client's whole first flight (preface, SETTINGS, HEADERS) is written a few bytes at a
    // time: the sniffer must put back everything it read, not only the preface.
    let pieces = 0;
    const body = await getH2(port, () => {
      const socket = connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      // A JavaScript stream, so that http2 writes through it (a net.Socket it writes natively).
      const wire = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          if (pieces > 0) {
            socket.write(chunk, callback);
            return;
          }
          for (const [from, to, delay] of [
            [0, 3, 0],
            [3, 20, 20],
            [20, chunk.length, 40],
          ] as const) {
            pieces++;
            setTimeout(() => socket.write(chunk.subarray(from, to)), delay);
          }
          setTimeout(callback, 40);
        },
      });
      socket.on("data", (c: Buffer) => wire.push(c));
      socket.on("end", () => wire.push(null));
      // A write still on its timer when the server closes the connection meets a reset: it ends
      // the wire, it is not the test's failure.
      socket.on("error", () => wire.destroy());
      return wire;
    });
    expect(pieces).toBe(3);
    expect(body).toBe("HTTP/2.0");
  });

  it("tells a request from a preface even when the first bytes arrive one by one", async () => {
    const { port } = await start();
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write("P");
    await new Promise((r) => setTimeout(r, 30));
    socket.write("OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (c: Buffer) => {
        text += c.toString();
      });
      socket.on("end", () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain("HTTP/1.1");
  });

  it("survives a client that resets the connection before sending anything", async () => {
    const { port } = await start();
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(await getH1(port)).toBe("HTTP/1.1");
  });

  it("drains at once when only idle keep-alive connections are left", async () => {
    const t = await start();
    await getH1(t.port);
    const started = Date.now();
    await t.drain();
    transport = undefined;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("a unix socket", () => {
  it("serves HTTP/1.1 and h2c on the socket, connectable by owner and group only, and removes it on drain", async () => {
    const path = join(dir, "serve.sock");
    const t = await start({ listen: { kind: "unix", path } });
    expect(t.address).toEqual({ kind: "unix", path });
    expect(t.port).toBe(0);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(await getH1(0, path)).toBe("HTTP/1.1");
    expect(await getH2(0, () => connect(path))).toBe("HTTP/2.0");
    await t.drain();
    transport = undefined;
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it("replaces a socket file nobody answers on (left by a killed run)", async () => {
    const path = join(dir, "stale.sock");
    // A socket file without a listener, as SIGKILL leaves one: bound, then the handle closed
    // without node's unlink (a child process that is killed).
    const killed = spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(killed.signal).toBe("SIGKILL");
    expect(statSync(path).isSocket()).toBe(true);
    await start({ listen: { kind: "unix", path } });
    expect(await getH1(0, path)).toBe("HTTP/1.1");
  });

  it("refuses a socket someone answers on, and a file that is not a socket, leaving both alone", async () => {
    const live = join(dir, "live.sock");
    const other = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => other.listen(live, resolve));
    try {
      await expect(start({ listen: { kind: "unix", path: live } })).rejects.toThrow(
        `[metrics_access] listen unix:${live}: cannot listen (EADDRINUSE)`,
      );
      expect(statSync(live).isSocket()).toBe(true);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
    const file = join(dir, "not-a-socket");
    writeFileSync(file, "data");
    const refused = start({ listen: { kind: "unix", path: file } });
    await expect(refused).rejects.toThrow(`[metrics_access] listen unix:${file}: cannot listen (EEXIST)`);
    await expect(refused).rejects.toMatchObject({ reason: "LISTEN_FAILED" });
    expect(readFileSync(file, "utf8")).toBe("data");
  });

  it("fails with the code when the directory does not exist", async () => {
    const path = join(dir, "missing", "x.sock");
    // node reports a missing directory as EACCES (libuv's bind of a pipe).
    await expect(start({ listen: { kind: "unix", path } })).rejects.toThrow(
      /^\[metrics_access\] listen unix:\S+\/missing\/x\.sock: cannot listen \((EACCES|ENOENT)\)$/,
    );
  });
});

/** Short bounds, so that the tests wait a fraction of a second instead of 10 s. */
const SHORT: ConnectionLimits = {
  firstBytesMs: 300,
  tlsHandshakeMs: 300,
  http2SettingsMs: 300,
  http1HeadersMs: 300,
  http1RequestMs: 600,
  http1CheckIntervalMs: 50,
};
/** A connection must be gone by then, well under the 10 s of the real bounds. */
const DROPPED_BY_MS = 2_000;

describe("slow and silent connections are dropped after a bound, while other calls go on", () => {
  it("defaults to explicit bounds of seconds, not node's minutes", async () => {
    const { CONNECTION_LIMITS } = await import("./connection-limits.js");
    for (const value of Object.values(CONNECTION_LIMITS)) expect(value).toBeLessThanOrEqual(30_000);
  });

  it("plaintext: a connection that sends nothing, one that sends the HTTP/2 preface only, and a slowly trickled HTTP/1.1 request", async () => {
    const { port } = await start({ limits: SHORT });
    const started = Date.now();
    const silent = connect(port, "127.0.0.1");
    const prefaceOnly = connect(port, "127.0.0.1", () =>
      prefaceOnly.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    );
    // A byte of a valid request every 20 ms: each byte would reset an idle timer.
    const slow = connect(port, "127.0.0.1");
    const text = `GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(500)}`;
    let sent = 0;
    const trickle = setInterval(() => slow.write(text.charAt(sent++)), 20);
    let slowAnswer = "";
    slow.on("data", (c: Buffer) => {
      slowAnswer += c.toString();
    });
    const closed = Promise.all([
      closedAfter(silent, started),
      closedAfter(prefaceOnly, started),
      closedAfter(slow, started).finally(() => clearInterval(trickle)),
    ]);
    // Meanwhile, other callers are served at once.
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      expect(await getH2(port)).toBe("HTTP/2.0");
      expect(await getH1(port)).toBe("HTTP/1.1");
      expect(Date.now() - t0).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [silentMs, prefaceMs, slowMs] = await closed;
    for (const ms of [silentMs, prefaceMs, slowMs]) {
      expect(ms).toBeGreaterThanOrEqual(SHORT.firstBytesMs - 50);
      expect(ms).toBeLessThan(DROPPED_BY_MS);
    }
    expect(slowAnswer).toMatch(/^HTTP\/1\.1 408/);
  });

  it("TLS: a connection that never completes its handshake, and one silent after it", async () => {
    const { port } = await start({ tls: serverTls(), limits: SHORT });
    const started = Date.now();
    const raw = connect(port, "127.0.0.1");
    // The start of a ClientHello: a record header announcing more than is sent...
    const halfHello = connect(port, "127.0.0.1", () =>
      halfHello.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])),
    );
    // ...then trickled a byte every 20 ms: the bound is not an idle timer.
    const trickle = setInterval(() => halfHello.write(Buffer.from([0x41])), 20);
    halfHello.once("close", () => clearInterval(trickle));
    const silentAfter = tlsConnect({ port, host: "127.0.0.1", ca: pki.ca, ALPNProtocols: ["http/1.1"] });
    const closed = Promise.all([
      closedAfter(raw, started),
      closedAfter(halfHello, started),
      closedAfter(silentAfter, started),
    ]);
    await new Promise((r) => silentAfter.once("secureConnect", r));
    expect(silentAfter.alpnProtocol).toBe("http/1.1");
    const answer = await new Promise<string>((resolve, reject) => {
      httpsRequest({ host: "127.0.0.1", port, path: "/", ca: pki.ca }, (res) =>
        bodyOf(res).then(resolve, reject),
      )
        .on("error", reject)
        .end();
    });
    expect(answer).toMatch(/^HTTP\/1\.1/);
    for (const ms of await closed) {
      expect(ms).toBeGreaterThanOrEqual(SHORT.tlsHandshakeMs - 50);
      expect(ms).toBeLessThan(DROPPED_BY_MS);
    }
  });
});

interface TlsOutcome {
  readonly authorized: boolean;
  readonly body: string;
  readonly peer: PeerCertificate;
}

/** One HTTP/1.1 request over TLS with `clientCert` (or none); what the server saw, in the body. */
function tlsRequest(port: number, client?: { cert: Buffer; key: Buffer }): Promise<TlsOutcome> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      port,
      host: "127.0.0.1",
      servername: "localhost",
      ca: pki.ca,
      ALPNProtocols: ["http/1.1"],
      ...client,
    });
    let body = "";
    socket.once("secureConnect", () => {
      socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (c: Buffer) => {
      body += c.toString();
    });
    socket.once("end", () =>
      resolve({ authorized: socket.authorized, body, peer: socket.getPeerCertificate() }),
    );
    socket.once("error", reject);
  });
}

describe("mutual TLS", () => {
  const clientOf = (p: TestPki) => ({
    cert: readFileSync(p.clientCertFile),
    key: readFileSync(p.clientKeyFile),
  });

  it("asks every client for a certificate and lets the call see whether the CA signed it", async () => {
    const { port } = await start({ tls: serverTls(true) });
    const signed = await tlsRequest(port, clientOf(pki));
    expect(signed.body).toContain("authorized=true error=- cn=metrics-access test client");
    // Without a certificate, or with one of another CA: still connected (health checks stay
    // reachable), and the call is told why it is not authorized.
    const none = await tlsRequest(port);
    expect(none.body).toContain("authorized=false error=UNABLE_TO_GET_ISSUER_CERT");
    const foreign = await tlsRequest(port, clientOf(otherPki));
    expect(foreign.body).toMatch(/authorized=false error=\S+ cn=metrics-access test client/);
    expect(foreign.body).not.toContain("authorized=true");
  });

  it("reports the same over HTTP/2 streams", async () => {
    const { port } = await start({ tls: serverTls(true) });
    const get = (client?: { cert: Buffer; key: Buffer }) =>
      getOnce(http2Connect(`https://localhost:${port}`, { ca: pki.ca, ...client }));
    expect(await get(clientOf(pki))).toBe("HTTP/2.0 authorized=true error=- cn=metrics-access test client");
    expect(await get()).toMatch(/^HTTP\/2\.0 authorized=false error=\S+/);
  });

  it("asks for no certificate without a client CA", async () => {
    const { port } = await start({ tls: serverTls(false) });
    const outcome = await tlsRequest(port, clientOf(pki));
    expect(outcome.authorized).toBe(true);
    expect(outcome.body).toContain("authorized=false error=- cn=-");
  });
});

describe("certificate rotation", () => {
  it("serves new connections the new certificate and keeps the open ones", async () => {
    const rotation = await mkdtemp(join(dir, "rotation-"));
    const certFile = join(rotation, "tls.crt");
    const keyFile = join(rotation, "tls.key");
    copyFileSync(pki.serverCertFile, certFile);
    copyFileSync(pki.serverKeyFile, keyFile);
    const t = await start({ tls: { ...serverTls(), certFile, keyFile } });
    const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
    // An HTTP/2 session (a gRPC channel's connection) open across the rotation.
    const session = http2Connect(`https://localhost:${t.port}`, { ca: [pki.ca, otherPki.ca] });
    const get = () => getOn(session);
    try {
      expect(await get()).toBe("HTTP/2.0 authorized=false error=- cn=-");
      const peerOf = () => (session.socket as TLSSocket).getPeerCertificate().fingerprint256;
      expect(peerOf()).toBe(fingerprint(pki.serverCertFile));
      copyFileSync(otherPki.serverCertFile, certFile);
      copyFileSync(otherPki.serverKeyFile, keyFile);
      expect(await t.checkTls()).toBe("loaded");
      const fresh = tlsConnect({ port: t.port, host: "127.0.0.1", servername: "localhost", ca: otherPki.ca });
      await new Promise((resolve, reject) => fresh.once("secureConnect", resolve).once("error", reject));
      expect(fresh.authorized).toBe(true);
      expect(fresh.getPeerCertificate().fingerprint256).toBe(fingerprint(otherPki.serverCertFile));
      fresh.destroy();
      expect(await get()).toBe("HTTP/2.0 authorized=false error=- cn=-");
      expect(peerOf()).toBe(fingerprint(pki.serverCertFile));
    } finally {
      session.close();
    }
  });
});

describe("client CA rotation", () => {
  it("checks new connections' client certificates against the new client CA", async () => {
    const rotation = await mkdtemp(join(dir, "client-ca-"));
    const caFile = join(rotation, "clients-ca.pem");
    copyFileSync(pki.caFile, caFile);
    const tls = serverTls(true);
    const { port } = await start({ tls: { ...tls, clientCa: { pem: pki.ca, file: caFile } } });
    const clientOf = (p: TestPki) => ({
      cert: readFileSync(p.clientCertFile),
      key: readFileSync(p.clientKeyFile),
    });
    expect((await tlsRequest(port, clientOf(otherPki))).body).toContain("authorized=false");
    copyFileSync(otherPki.caFile, caFile);
    expect(await transport?.checkTls()).toBe("loaded");
    expect((await tlsRequest(port, clientOf(otherPki))).body).toContain("authorized=true");
    expect((await tlsRequest(port, clientOf(pki))).body).toContain("authorized=false");
  });
});
