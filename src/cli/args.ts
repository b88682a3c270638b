import { parseArgs } from "node:util";
import { parseListenAddress } from "../config/listen-address.js";
import type { ListenAddress } from "../config/types.js";

export type CommandName = "serve" | "check-config" | "probe";
export const COMMAND_NAMES: readonly CommandName[] = ["serve", "check-config", "probe"];

export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
/** A HEALTHCHECK that waits longer than this is better served by its own --timeout. */
const MAX_PROBE_TIMEOUT_MS = 600_000;

/** What the command line asks for, validated. */
export type Command =
  | { readonly name: "help"; readonly topic: CommandName | undefined }
  | { readonly name: "version" }
  | { readonly name: "serve"; readonly configFiles: readonly string[] }
  | {
      readonly name: "check-config";
      readonly configFiles: readonly string[];
      readonly json: boolean;
      /** The host to ask host metrics for; undefined: one the check picks. */
      readonly host: string | undefined;
      /** The instance to ask instance metrics for; undefined: one the check finds. */
      readonly instance: string | undefined;
    }
  | {
      readonly name: "probe";
      readonly configFiles: readonly string[];
      /** undefined: from `[metrics_access] listen`. */
      readonly address: ListenAddress | undefined;
      readonly timeoutMs: number;
    };

/** A command line that cannot be run; the message names the word at fault. Exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The command whose help explains the fix; undefined for the global help. */
  readonly command: CommandName | undefined;

  constructor(message: string, command: CommandName | undefined) {
    super(message);
    this.command = command;
  }
}

interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
}

const CONFIG_FILE: OptionSpec = { type: "string", multiple: true };
const HELP: OptionSpec = { type: "boolean", short: "h" };

const COMMAND_OPTIONS: Readonly<Record<CommandName, Readonly<Record<string, OptionSpec>>>> = {
  serve: { "config-file": CONFIG_FILE, help: HELP },
  "check-config": {
    "config-file": CONFIG_FILE,
    json: { type: "boolean" },
    host: { type: "string" },
    instance: { type: "string" },
    help: HELP,
  },
  probe: {
    "config-file": CONFIG_FILE,
    address: { type: "string" },
    timeout: { type: "string" },
    help: HELP,
  },
};

/**
 * `metrics-access [COMMAND] [OPTIONS]`. No command, or options first, means serve: that is how the
 * service has always been started (`node dist/main.js --config-file x`).
 */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h" || first === "help") {
    return { name: "help", topic: helpTopic(rest) };
  }
  if (first === "--version" || first === "-V") {
    if (rest.length > 0)
      throw new UsageError(`--version takes nothing after it (got "${rest[0]}")`, undefined);
    return { name: "version" };
  }
  if (first === undefined || first.startsWith("-")) return parseCommand("serve", argv);
  if (!isCommandName(first)) {
    throw new UsageError(
      `unknown command "${first}"; the commands are ${COMMAND_NAMES.join(", ")}`,
      undefined,
    );
  }
  return parseCommand(first, rest);
}

function helpTopic(rest: readonly string[]): CommandName | undefined {
  const [topic, ...extra] = rest;
  if (topic === undefined) return undefined;
  if (!isCommandName(topic) || extra.length > 0) {
    throw new UsageError(
      `no help for "${rest.join(" ")}"; the commands are ${COMMAND_NAMES.join(", ")}`,
      undefined,
    );
  }
  return topic;
}

function isCommandName(word: string): word is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(word);
}

function parseCommand(command: CommandName, args: readonly string[]): Command {
  const values = readOptions(command, args);
  if (values.has("help")) return { name: "help", topic: command };
  const configFiles = values.get("config-file") ?? [];
  const single = (name: string): string | undefined => values.get(name)?.at(-1);
  switch (command) {
    case "serve":
      return { name: "serve", configFiles };
    case "check-config":
      return {
        name: "check-config",
        configFiles,
        json: values.has("json"),
        host: single("host"),
        instance: single("instance"),
      };
    case "probe":
      return {
        name: "probe",
        configFiles,
        address: probeAddress(single("address")),
        timeoutMs: probeTimeout(single("timeout")),
      };
  }
}

/**
 * Every option given, by name, each with its values in order (booleans: one empty string per
 * occurrence). parseArgs runs non-strict so that each mistake gets a message naming the word and
 * the command, rather than Node's generic one.
 */
function readOptions(command: CommandName, args: readonly string[]): Map<string, string[]> {
  const specs = COMMAND_OPTIONS[command];
  const { tokens } = parseArgs({
    args: [...args],
    options: specs,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw new UsageError(`${command}: unexpected argument "${token.value}"`, command);
    }
    if (token.kind !== "option") continue;
    const spec = specs[token.name];
    if (spec === undefined) throw new UsageError(`${command}: unknown option "${token.rawName}"`, command);
    if (spec.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(`${command}: ${token.rawName} takes no value`, command);
      }
      values.set(token.name, [...(values.get(token.name) ?? []), ""]);
      continue;
    }
    // Non-strict parsing hands a string option the next word even when it is another option.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith("-"))) {
      throw new UsageError(`${command}: ${token.rawName} needs a value`, command);
    }
    values.set(token.name, [...(values.get(token.name) ?? []), token.value]);
  }
  return values;
}

function probeAddress(text: string | undefined): ListenAddress | undefined {
  if (text === undefined) return undefined;
  const address = parseListenAddress(text);
  if (address === undefined || (address.kind === "tcp" && address.port === 0)) {
    throw new UsageError(
      `probe: --address "${text}" must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:50051 or [::1]:50051, or unix:/absolute/path`,
      "probe",
    );
  }
  return address;
}

function probeTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PROBE_TIMEOUT_MS;
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms < 1 || ms > MAX_PROBE_TIMEOUT_MS) {
    throw new UsageError(
      `probe: --timeout "${text}" must be a whole number of milliseconds from 1 to ${MAX_PROBE_TIMEOUT_MS}`,
      "probe",
    );
  }
  return ms;
}

/**
 * The configuration files as the loader takes them, `--config-file` arguments: it reads them in
 * order, and the file METRICS_ACCESS_CONFIG_FILE names when there are none, exactly as before this
 * command line existed.
 */
export function configFileArgs(configFiles: readonly string[]): string[] {
  return configFiles.flatMap((file) => ["--config-file", file]);
}
