/**
 * Throwaway TLS material for tests, made with the real openssl CLI in a fresh temporary directory:
 * a private CA, a server certificate for 127.0.0.1 and localhost, and a client certificate (for
 * mutual TLS), all P-256 and signed by that CA. Nothing here is in any system trust store, which is
 * what lets a test prove that a CA option is really used. No test framework here.
 *
 * openssl missing is an error (execFile rejects with ENOENT), never a reason to skip.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The files (PEM) and the CA in memory; `remove()` deletes the directory. */
export interface TestPki {
  readonly dir: string;
  /** The private CA's certificate. */
  readonly caFile: string;
  readonly ca: Buffer;
  /** Server certificate: SAN DNS:localhost, IP:127.0.0.1; extendedKeyUsage serverAuth. */
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** Client certificate: CN=metrics-access test client; extendedKeyUsage clientAuth. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** Client certificate with a SPIFFE ID: CN=engine, SAN URI:spiffe://example.org/ns/watcher/sa/engine. */
  readonly engineCertFile: string;
  readonly engineKeyFile: string;
  /** Deletes the directory and everything in it. */
  remove(): Promise<void>;
}

export interface TestPkiOptions {
  /** mkdtemp prefix under the OS temp directory, default `metrics-access-pki-`. */
  readonly prefix?: string;
  /** Validity in days, default 2. */
  readonly days?: number;
}

/** The SAN of {@link TestPki.engineCertFile}, as tls_client_allowed_subjects names it. */
export const ENGINE_SPIFFE_ID = "URI:spiffe://example.org/ns/watcher/sa/engine";

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"] as const;

/** Makes a CA, a server certificate and a client certificate in a new temporary directory. */
export async function createTestPki(options: TestPkiOptions = {}): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? "metrics-access-pki-"));
  const days = String(options.days ?? 2);
  const openssl = async (args: readonly string[]): Promise<void> => {
    try {
      await execFileAsync("openssl", [...args], { cwd: dir });
    } catch (err) {
      const e = err as { code?: unknown; stderr?: string; message: string };
      const why = e.code === "ENOENT" ? "openssl is not installed (it is required)" : e.message;
      throw new Error(`openssl ${args[0] ?? ""} failed: ${why}${e.stderr ? `\n${e.stderr}` : ""}`);
    }
  };
  /** A key and a certificate for `cn`, signed by the CA, with the given X.509v3 extensions. */
  const leaf = async (name: string, cn: string, extensions: readonly string[]): Promise<void> => {
    await openssl(["req", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    await writeFile(join(dir, `${name}.ext`), `${extensions.join("\n")}\n`);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      // An explicit random serial: two signings in parallel must not share a serial file.
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-out",
      `${name}.pem`,
      "-days",
      days,
      "-extfile",
      `${name}.ext`,
    ]);
  };

  try {
    await openssl([
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      days,
      "-subj",
      "/CN=metrics-access test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await Promise.all([
      leaf("server", "localhost", [
        "basicConstraints = CA:FALSE",
        "keyUsage = critical, digitalSignature, keyEncipherment",
        "extendedKeyUsage = serverAuth",
        "subjectAltName = DNS:localhost, IP:127.0.0.1",
      ]),
      leaf("client", "metrics-access test client", [
        "basicConstraints = CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = clientAuth",
      ]),
      leaf("engine", "engine", [
        "basicConstraints = CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = clientAuth",
        `subjectAltName = ${ENGINE_SPIFFE_ID}`,
      ]),
    ]);
    return {
      dir,
      caFile: join(dir, "ca.pem"),
      ca: await readFile(join(dir, "ca.pem")),
      serverCertFile: join(dir, "server.pem"),
      serverKeyFile: join(dir, "server.key"),
      clientCertFile: join(dir, "client.pem"),
      clientKeyFile: join(dir, "client.key"),
      engineCertFile: join(dir, "engine.pem"),
      engineKeyFile: join(dir, "engine.key"),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
