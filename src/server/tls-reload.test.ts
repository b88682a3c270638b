import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../../test/support/tls-material.js";
import { createLogger } from "../log.js";
import { type TlsPem, type TlsReloader, watchTlsFiles } from "./tls-reload.js";

let root: string;
let a: TestPki;
let b: TestPki;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "metrics-access-tls-reload-"));
  [a, b] = await Promise.all([createTestPki(), createTestPki()]);
});
afterAll(async () => {
  await Promise.all([rm(root, { recursive: true, force: true }), a?.remove(), b?.remove()]);
});

let reloader: TlsReloader | undefined;
afterEach(() => reloader?.stop());

let case_ = 0;
interface Setup {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly applied: TlsPem[];
  readonly lines: () => Record<string, unknown>[];
  readonly raw: () => string;
}

/** Files of PKI `a` in a fresh directory, watched (clientCa: with a client CA file). */
function setup(options: { clientCa?: boolean; intervalMs?: number } = {}): Setup {
  const dir = join(root, `case-${++case_}`);
  mkdirSync(dir);
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  const ca = join(dir, "clients-ca.pem");
  copyFileSync(a.serverCertFile, cert);
  copyFileSync(a.serverKeyFile, key);
  copyFileSync(a.caFile, ca);
  const out: string[] = [];
  const logger = createLogger(
    "info",
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk.toString());
        callback();
      },
    }),
  );
  const applied: TlsPem[] = [];
  reloader = watchTlsFiles({
    files: { certFile: cert, keyFile: key, clientCaFile: options.clientCa ? ca : undefined },
    current: {
      cert: readFileSync(cert),
      key: readFileSync(key),
      clientCa: options.clientCa ? readFileSync(ca) : undefined,
    },
    intervalMs: options.intervalMs ?? 0,
    logger,
    apply: (pem) => applied.push(pem),
  });
  const raw = () => out.join("");
  const lines = () =>
    raw()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { dir, cert, key, ca, applied, lines, raw };
}

const check = () => {
  if (!reloader) throw new Error("no reloader");
  return reloader.check();
};

describe("watchTlsFiles", () => {
  it("finds nothing new at first (the files hold what the server started with), nor after a touch", async () => {
    const s = setup();
    expect(await check()).toBe("unchanged");
    utimesSync(s.cert, new Date(), new Date(Date.now() + 5_000));
    expect(await check()).toBe("unchanged");
    expect(s.applied).toEqual([]);
    expect(s.lines()).toEqual([]);
  });

  it("loads a new pair, logging the certificate and never the key", async () => {
    const s = setup();
    await check();
    copyFileSync(b.serverCertFile, s.cert);
    copyFileSync(b.serverKeyFile, s.key);
    expect(await check()).toBe("loaded");
    expect(s.applied).toHaveLength(1);
    expect(s.applied[0]?.cert.equals(readFileSync(b.serverCertFile))).toBe(true);
    expect(s.applied[0]?.key.equals(readFileSync(b.serverKeyFile))).toBe(true);
    const fingerprint = new X509Certificate(readFileSync(b.serverCertFile)).fingerprint256;
    expect(s.lines()).toEqual([
      expect.objectContaining({
        level: "info",
        msg: "TLS files reloaded: new connections get the new certificate, open ones keep theirs",
        subject: "CN=localhost",
        issuer: "CN=metrics-access test CA",
        fingerprint256: fingerprint,
        clientCa: false,
      }),
    ]);
    const keyBody = readFileSync(b.serverKeyFile, "utf8").split("\n")[1] ?? "";
    expect(keyBody.length).toBeGreaterThan(20);
    expect(s.raw()).not.toContain(keyBody);
    expect(s.raw()).not.toContain("PRIVATE KEY");
    expect(await check()).toBe("unchanged");
  });

  it("keeps the current pair while the key is not yet the new certificate's, warning once, then loads", async () => {
    const s = setup();
    await check();
    copyFileSync(b.serverCertFile, s.cert);
    expect(await check()).toBe("rejected");
    expect(await check()).toBe("unchanged");
    expect(s.applied).toEqual([]);
    expect(s.lines()).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "new TLS files cannot be used: keeping the current ones",
        problem: expect.stringMatching(/key values mismatch/),
        files: [s.cert, s.key],
      }),
    ]);
    copyFileSync(b.serverKeyFile, s.key);
    expect(await check()).toBe("loaded");
    expect(s.applied).toHaveLength(1);
  });

  it("rejects a certificate cut short (half written)", async () => {
    const s = setup();
    const whole = readFileSync(b.serverCertFile, "utf8");
    writeFileSync(s.cert, whole.slice(0, whole.length / 2));
    copyFileSync(b.serverKeyFile, s.key);
    expect(await check()).toBe("rejected");
    expect(s.applied).toEqual([]);
    writeFileSync(s.cert, whole);
    expect(await check()).toBe("loaded");
  });

  it("follows a Kubernetes Secret update: an atomic swap of the ..data symlink", async () => {
    const s = setup();
    // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/
    const layout = join(s.dir, "mounted");
    mkdirSync(join(layout, "..v1"), { recursive: true });
    copyFileSync(a.serverCertFile, join(layout, "..v1", "tls.crt"));
    copyFileSync(a.serverKeyFile, join(layout, "..v1", "tls.key"));
    symlinkSync("..v1", join(layout, "..data"));
    rmSync(s.cert);
    rmSync(s.key);
    symlinkSync(join(layout, "..data", "tls.crt"), s.cert);
    symlinkSync(join(layout, "..data", "tls.key"), s.key);
    expect(await check()).toBe("unchanged");
    mkdirSync(join(layout, "..v2"));
    copyFileSync(b.serverCertFile, join(layout, "..v2", "tls.crt"));
    copyFileSync(b.serverKeyFile, join(layout, "..v2", "tls.key"));
    symlinkSync("..v2", join(layout, "..data_tmp"));
    renameSync(join(layout, "..data_tmp"), join(layout, "..data"));
    rmSync(join(layout, "..v1"), { recursive: true });
    expect(await check()).toBe("loaded");
    expect(s.applied[0]?.cert.equals(readFileSync(b.serverCertFile))).toBe(true);
  });

  it("warns once while a file is missing, and takes it back when it returns", async () => {
    const s = setup();
    const saved = readFileSync(s.key);
    rmSync(s.key);
    expect(await check()).toBe("rejected");
    expect(await check()).toBe("unchanged");
    expect(s.lines()).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "TLS files cannot be read: keeping the current ones",
        problem: expect.stringContaining("ENOENT"),
      }),
    ]);
    writeFileSync(s.key, saved);
    expect(await check()).toBe("unchanged");
    expect(s.applied).toEqual([]);
  });

  it("reloads the client CA with the pair, and refuses one cut short", async () => {
    const s = setup({ clientCa: true });
    expect(await check()).toBe("unchanged");
    const bundle = `${readFileSync(a.caFile, "utf8")}${readFileSync(b.caFile, "utf8")}`;
    writeFileSync(s.ca, bundle.slice(0, bundle.length - 100));
    expect(await check()).toBe("rejected");
    expect(s.lines()[0]).toMatchObject({ problem: expect.stringContaining("tls_client_cafile") });
    writeFileSync(s.ca, bundle);
    expect(await check()).toBe("loaded");
    expect(s.applied[0]?.clientCa?.toString()).toBe(bundle);
    expect(s.lines()[1]).toMatchObject({ level: "info", clientCa: true });
  });

  it("looks on its own every intervalMs", async () => {
    const s = setup({ intervalMs: 30 });
    copyFileSync(b.serverCertFile, s.cert);
    copyFileSync(b.serverKeyFile, s.key);
    const deadline = Date.now() + 5_000;
    while (s.applied.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s.applied).toHaveLength(1);
  });
});
