import { X509Certificate } from "node:crypto";
import type { Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { Logger } from "../log.js";

/** What the TLS server serves with: its certificate and key, and with mutual TLS the client CAs. */
export interface TlsPem {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string | undefined;
}

/** What one look at the files found. */
export type TlsCheck =
  /** Nothing changed since the last look (or only the files' times: same bytes). */
  | "unchanged"
  /** New material, checked and handed to `apply`. */
  | "loaded"
  /** New material that cannot be used (unreadable, half written, a key of another certificate): the current one stays. */
  | "rejected"
  /** A file changed while it was read: looked at again next time. */
  | "changing";

export interface TlsReloadOptions {
  readonly files: TlsFiles;
  /** What the server serves with now (the configuration read these files at start-up). */
  readonly current: TlsPem;
  /** Between two looks; 0: never (only {@link TlsReloader.check} looks). */
  readonly intervalMs: number;
  readonly logger: Pick<Logger, "info" | "warn">;
  /** Puts new material in use for new connections (tls.Server#setSecureContext). */
  readonly apply: (pem: TlsPem) => void;
}

export interface TlsReloader {
  /** One look at the files now (the timer calls it; tests too). */
  check(): Promise<TlsCheck>;
  stop(): void;
}

/**
 * Certificate rotation without a restart: every `intervalMs` the files are stat()ed, and when one
 * changed (device, inode, size or mtime) they are read, checked as TLS will use them, and applied
 * for new connections; open connections keep the context they were handshaken with, so nothing is
 * dropped. stat() follows symlinks, so Kubernetes' way of updating a mounted Secret (a new
 * directory, then an atomic swap of the `..data` symlink) is seen like an in-place write; fs.watch
 * would miss it (it watches the old inode). Material that cannot be used is logged and the current
 * one kept; a pair half way through being written is either caught by the check or seen changing
 * under the read and looked at again.
 */
export function watchTlsFiles(options: TlsReloadOptions): TlsReloader {
  const { files, logger } = options;
  let current = options.current;
  let seen: string | undefined;
  let running: Promise<TlsCheck> | undefined;
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];

  const look = async (): Promise<TlsCheck> => {
    let read: TlsPem;
    let signature: string;
    try {
      signature = identity(await Promise.all(paths.map((p) => stat(p))));
      if (signature === seen) return "unchanged";
      const [cert, key, clientCa] = await Promise.all(paths.map((p) => readFile(p)));
      if (identity(await Promise.all(paths.map((p) => stat(p)))) !== signature) return "changing";
      read = { cert: cert ?? Buffer.alloc(0), key: key ?? Buffer.alloc(0), clientCa };
    } catch (err) {
      // A file missing for good is reported once: the error is its signature.
      const failure = `error:${errorText(err)}`;
      if (failure === seen) return "unchanged";
      seen = failure;
      logger.warn(
        { files: paths, problem: errorText(err) },
        "TLS files cannot be read: keeping the current ones",
      );
      return "rejected";
    }
    seen = signature;
    if (samePem(read, current)) return "unchanged";
    let certificate: X509Certificate;
    try {
      certificate = checkPem(read);
    } catch (err) {
      logger.warn(
        { files: paths, problem: errorText(err) },
        "new TLS files cannot be used: keeping the current ones",
      );
      return "rejected";
    }
    options.apply(read);
    current = read;
    logger.info(
      {
        subject: certificate.subject,
        issuer: certificate.issuer,
        validTo: certificate.validTo,
        fingerprint256: certificate.fingerprint256,
        clientCa: read.clientCa !== undefined,
      },
      "TLS files reloaded: new connections get the new certificate, open ones keep theirs",
    );
    return "loaded";
  };

  const check = (): Promise<TlsCheck> => {
    running ??= look().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer =
    options.intervalMs > 0
      ? setInterval(() => {
          void check();
        }, options.intervalMs)
      : undefined;
  // Looking at files is no reason to keep the process alive.
  timer?.unref();
  return {
    check,
    stop: () => clearInterval(timer),
  };
}

function identity(stats: readonly Stats[]): string {
  return stats.map((s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`).join("|");
}

function samePem(a: TlsPem, b: TlsPem): boolean {
  const sameCa =
    a.clientCa === undefined || b.clientCa === undefined
      ? a.clientCa === b.clientCa
      : a.clientCa.equals(b.clientCa);
  return sameCa && a.cert.equals(b.cert) && a.key.equals(b.key);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Throws unless the material works as TLS will use it: the key is the certificate's (OpenSSL
 * checks that when both go into one context), every certificate in the client CA file is whole.
 * Returns the server certificate, for the log line.
 */
function checkPem(pem: TlsPem): X509Certificate {
  createSecureContext({ cert: pem.cert, key: pem.key });
  if (pem.clientCa !== undefined) {
    const text = pem.clientCa.toString("latin1");
    const blocks = text.match(PEM_CERTIFICATE) ?? [];
    // OpenSSL skips what it cannot parse in a CA file: a truncated last certificate would go unseen.
    if (blocks.length === 0 || blocks.length !== text.split("-----BEGIN CERTIFICATE-----").length - 1) {
      throw new Error("tls_client_cafile holds no whole PEM certificate, or one cut short");
    }
    for (const block of blocks) new X509Certificate(block);
  }
  return new X509Certificate(pem.cert);
}

/** The reason only: OpenSSL's and node's messages about PEM files carry no key material. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
