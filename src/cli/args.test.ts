import { describe, expect, it } from "vitest";
import { type Command, DEFAULT_PROBE_TIMEOUT_MS, parseCommandLine, UsageError } from "./args.js";

function usageError(argv: readonly string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`parsed without error: ${argv.join(" ")}`);
}

describe("parseCommandLine", () => {
  it("serves when no command is given, as `node dist/main.js --config-file x` always has", () => {
    expect(parseCommandLine([])).toEqual({ name: "serve", configFiles: [] });
    expect(parseCommandLine(["--config-file", "a.conf", "--config-file=b.conf"])).toEqual({
      name: "serve",
      configFiles: ["a.conf", "b.conf"],
    });
    expect(parseCommandLine(["serve", "--config-file", "a.conf"])).toEqual({
      name: "serve",
      configFiles: ["a.conf"],
    });
  });

  it("reads check-config's options, with --host and --instance unset by default", () => {
    expect(parseCommandLine(["check-config"])).toEqual({
      name: "check-config",
      configFiles: [],
      json: false,
      host: undefined,
      instance: undefined,
    } satisfies Command);
    expect(
      parseCommandLine([
        "check-config",
        "--json",
        "--host",
        "compute-1",
        "--instance=1111",
        "--config-file",
        "w.conf",
      ]),
    ).toEqual({
      name: "check-config",
      configFiles: ["w.conf"],
      json: true,
      host: "compute-1",
      instance: "1111",
    });
  });

  it("reads probe's address (IPv6 bracketed, or a unix socket) and timeout, 2000 ms by default", () => {
    expect(parseCommandLine(["probe"])).toEqual({
      name: "probe",
      configFiles: [],
      address: undefined,
      timeoutMs: DEFAULT_PROBE_TIMEOUT_MS,
    });
    expect(parseCommandLine(["probe", "--address", "[::1]:50051", "--timeout", "500"])).toEqual({
      name: "probe",
      configFiles: [],
      address: { kind: "tcp", host: "::1", port: 50051 },
      timeoutMs: 500,
    });
    expect(parseCommandLine(["probe", "--address", "unix:/run/m/grpc.sock"])).toMatchObject({
      address: { kind: "unix", path: "/run/m/grpc.sock" },
    });
  });

  it("answers help globally, per command (-h, --help, help COMMAND) and the version", () => {
    expect(parseCommandLine(["--help"])).toEqual({ name: "help", topic: undefined });
    expect(parseCommandLine(["-h"])).toEqual({ name: "help", topic: undefined });
    expect(parseCommandLine(["help", "probe"])).toEqual({ name: "help", topic: "probe" });
    expect(parseCommandLine(["check-config", "--help"])).toEqual({ name: "help", topic: "check-config" });
    expect(parseCommandLine(["probe", "-h", "--address", "x"])).toEqual({ name: "help", topic: "probe" });
    // Options first still means serve, so its help.
    expect(parseCommandLine(["--config-file", "a", "--help"])).toEqual({ name: "help", topic: "serve" });
    expect(parseCommandLine(["--version"])).toEqual({ name: "version" });
    expect(parseCommandLine(["-V"])).toEqual({ name: "version" });
  });

  it("names an unknown command and lists the real ones", () => {
    const err = usageError(["chek-config"]);
    expect(err.message).toBe('unknown command "chek-config"; the commands are serve, check-config, probe');
    expect(err.command).toBeUndefined();
    expect(usageError(["help", "frob"]).message).toContain('"frob"');
  });

  it("names an unknown option and the command it was given to", () => {
    expect(usageError(["check-config", "--jsn"]).message).toBe('check-config: unknown option "--jsn"');
    expect(usageError(["probe", "-x"]).message).toBe('probe: unknown option "-x"');
    // Before this CLI, serve took only --config-file; it still does.
    const serve = usageError(["--listen", "x"]);
    expect(serve.message).toBe('serve: unknown option "--listen"');
    expect(serve.command).toBe("serve");
  });

  it("refuses stray words, missing values and values given to flags", () => {
    expect(usageError(["serve", "watcher.conf"]).message).toBe('serve: unexpected argument "watcher.conf"');
    expect(usageError(["--config-file"]).message).toBe("serve: --config-file needs a value");
    expect(usageError(["probe", "--address", "--timeout", "5"]).message).toBe(
      "probe: --address needs a value",
    );
    expect(usageError(["check-config", "--json=yes"]).message).toBe("check-config: --json takes no value");
    expect(usageError(["--version", "extra"]).message).toContain('"extra"');
  });

  it("refuses a malformed address or timeout, saying what is expected", () => {
    for (const address of ["localhost", "1.2.3.4:0", "[nothost]:80", "::1:50051", "h:70000"]) {
      expect(usageError(["probe", "--address", address]).message).toContain(
        `--address "${address}" must be host:port`,
      );
    }
    for (const timeout of ["0", "-5", "1.5", "2s", "600001"]) {
      expect(usageError(["probe", `--timeout=${timeout}`]).message).toContain(
        `--timeout "${timeout}" must be`,
      );
    }
  });
});
