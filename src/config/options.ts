import { isIPv6 } from "node:net";
import { createSecureContext } from "node:tls";
import { errorCodeOf } from "../errors.js";
import { redactUrlCredentials } from "../redact.js";
import type { IniSections } from "./ini.js";
import { environmentName, OPTIONS, type OptionSpec } from "./schema.js";

interface RawValue {
  readonly value: string;
  /** "file.conf:12", "environment METRICS_ACCESS__…", or "default". */
  readonly source: string;
}

/** A Prometheus label name. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** oslo.config's booleans: true/yes/on/1 and false/no/off/0, any case; undefined for anything else. */
export function parseBoolean(text: string): boolean | undefined {
  const value = text.trim().toLowerCase();
  if (value === "true" || value === "yes" || value === "on" || value === "1") return true;
  if (value === "false" || value === "no" || value === "off" || value === "0") return false;
  return undefined;
}

/**
 * Typed reads of the options in schema.ts, collecting every problem instead of stopping at the
 * first, so that one start-up names all that is wrong. Messages name `[section] option` and never
 * echo a secret's value.
 */
export class OptionReader {
  readonly problems: string[] = [];
  readonly #sections: IniSections;
  readonly #env: NodeJS.ProcessEnv;
  readonly #readFile: (path: string) => Buffer;

  constructor(sections: IniSections, env: NodeJS.ProcessEnv, readFile: (path: string) => Buffer) {
    this.#sections = sections;
    this.#env = env;
    this.#readFile = readFile;
  }

  /** Whether the option was given in a file or the environment (defaults do not count). */
  isSet(section: string, name: string): boolean {
    const raw = this.#raw(spec(section, name));
    return raw !== undefined && raw.source !== "default" && raw.value !== "";
  }

  string(section: string, name: string): string | undefined {
    const option = spec(section, name);
    const raw = this.#raw(option);
    if (raw === undefined || raw.value === "") return undefined;
    if (option.choices && !option.choices.includes(raw.value)) {
      this.fail(option, raw, `must be one of ${option.choices.join(", ")}`);
      return undefined;
    }
    return raw.value;
  }

  required(section: string, name: string, why: string): string | undefined {
    const value = this.string(section, name);
    if (value === undefined) this.problems.push(`[${section}] ${name}: required ${why}`);
    return value;
  }

  integer(section: string, name: string, min: number, max: number): number {
    const option = spec(section, name);
    const raw = this.#raw(option);
    const value = Number(raw?.value);
    if (raw === undefined || !/^-?\d+$/.test(raw.value.trim()) || value < min || value > max) {
      this.fail(option, raw, `must be an integer from ${min} to ${max}`);
      return min;
    }
    return value;
  }

  /** Seconds and intervals: a day at most, which also keeps them within setTimeout's range. */
  number(section: string, name: string, min: number, max = 86_400): number {
    const option = spec(section, name);
    const raw = this.#raw(option);
    const value = Number(raw?.value);
    if (
      raw === undefined ||
      raw.value.trim() === "" ||
      !Number.isFinite(value) ||
      value < min ||
      value > max
    ) {
      this.fail(option, raw, `must be a number from ${min} to ${max}`);
      return min;
    }
    return value;
  }

  /** Seconds, more than 0, as milliseconds. */
  positiveSeconds(section: string, name: string): number {
    const before = this.problems.length;
    const seconds = this.number(section, name, 0);
    if (seconds === 0 && this.problems.length === before)
      this.problems.push(`[${section}] ${name}: must be more than 0`);
    return Math.round(seconds * 1000);
  }

  boolean(section: string, name: string): boolean {
    const option = spec(section, name);
    const raw = this.#raw(option);
    const value = parseBoolean(raw?.value ?? "");
    if (value === undefined) this.fail(option, raw, "must be true or false");
    return value ?? false;
  }

  list(section: string, name: string): string[] | undefined {
    const value = this.string(section, name);
    if (value === undefined) return undefined;
    return value
      .split(/[,\n]/)
      .map((item) => item.trim())
      .filter((item) => item !== "");
  }

  /** Reads the file an option names; the problem names the option, not the file's content. */
  file(section: string, name: string): Buffer | undefined {
    const path = this.string(section, name);
    if (path === undefined) return undefined;
    try {
      return this.#readFile(path);
    } catch (err) {
      this.problems.push(`[${section}] ${name}: cannot read "${path}" (${errorCodeOf(err, "unreadable")})`);
      return undefined;
    }
  }

  /**
   * A certificate and its private key, read and checked the way TLS will use them, so that a file
   * that holds no PEM, an encrypted key or a key of another certificate is a configuration error
   * naming the option rather than a failure at start-up. Undefined when neither is set or either is
   * wrong (the problem is recorded).
   */
  keyPair(section: string, certName: string, keyName: string): { cert: Buffer; key: Buffer } | undefined {
    const cert = this.file(section, certName);
    const key = this.file(section, keyName);
    if (this.isSet(section, certName) !== this.isSet(section, keyName)) {
      this.problems.push(`[${section}] ${certName}, ${keyName}: set both or neither`);
      return undefined;
    }
    if (cert === undefined || key === undefined) return undefined;
    let wrong = false;
    if (!acceptedBy({ cert })) {
      this.reject(section, certName, "holds no PEM certificate");
      wrong = true;
    }
    if (!acceptedBy({ key })) {
      this.reject(section, keyName, "holds no PEM private key without a passphrase");
      wrong = true;
    }
    if (!wrong && !acceptedBy({ cert, key })) {
      this.problems.push(`[${section}] ${certName}, ${keyName}: the key does not belong to the certificate`);
      wrong = true;
    }
    return wrong ? undefined : { cert, key };
  }

  labelName(section: string, name: string): string {
    const option = spec(section, name);
    const raw = this.#raw(option);
    const value = raw?.value ?? "";
    if (!LABEL_NAME.test(value)) {
      this.fail(option, raw, "must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    }
    return value;
  }

  hostName(section: string, name: string): string | undefined {
    const option = spec(section, name);
    const raw = this.#raw(option);
    const value = this.string(section, name);
    if (value === undefined) return undefined;
    const unbracketed = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
    if (isIPv6(unbracketed) && unbracketed.includes("%")) {
      this.fail(option, raw, "IPv6 zone identifiers (%eth0) are not supported; use a routable address");
      return undefined;
    }
    if (isIPv6(unbracketed)) return unbracketed;
    if (value.length > 253 || !/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?\.?$/.test(value)) {
      this.fail(option, raw, "must be a host name or an IP address (no scheme, port or path)");
      return undefined;
    }
    return value;
  }

  /** Reports a problem with an option's current value, found by a check of the caller's. */
  reject(section: string, name: string, problem: string): void {
    const option = spec(section, name);
    this.fail(option, this.#raw(option), problem);
  }

  fail(option: OptionSpec, raw: RawValue | undefined, problem: string): void {
    // A credential typed into a URL (scheme://user:password@host) must not be echoed either.
    const value = raw === undefined ? "" : redactUrlCredentials(raw.value);
    const shown = raw === undefined ? "" : option.secret ? " (value hidden)" : ` "${value}"`;
    const from = raw === undefined ? "" : ` [from ${raw.source}]`;
    this.problems.push(`[${option.section}] ${option.name}${shown}: ${problem}${from}`);
  }

  #raw(option: OptionSpec): RawValue | undefined {
    const envName = environmentName(option);
    const fromEnv = this.#env[envName];
    if (fromEnv !== undefined) return { value: fromEnv, source: `environment ${envName}` };
    const fromFile = this.#sections.get(option.section)?.get(option.name);
    if (fromFile !== undefined) return fromFile;
    if (option.default !== undefined) return { value: option.default, source: "default" };
    return undefined;
  }
}

/** Whether OpenSSL takes these as the certificate and key of a TLS context. */
function acceptedBy(material: { cert?: Buffer; key?: Buffer }): boolean {
  try {
    createSecureContext(material);
    return true;
  } catch {
    return false;
  }
}

function spec(section: string, name: string): OptionSpec {
  const found = OPTIONS.find((o) => o.section === section && o.name === name);
  if (!found) throw new Error(`option [${section}] ${name} is not in the schema`);
  return found;
}
