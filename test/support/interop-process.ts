/**
 * The real entry point as a separate process: `node --import tsx src/main.ts ARGS`, with its
 * stdout (JSON log lines) and stderr collected in memory and its exit awaited. {@link spawnService}
 * hands back the running process; {@link runMain} runs it on config files until it exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Options } from "./app.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ServiceProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON lines; throws on a line that is not JSON. */
  logLines(): Record<string, unknown>[];
  /** Resolves with the exit code (null after a signal) and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for the "serving" log line and returns the port it names. */
  serving(timeoutMs: number): Promise<number>;
  /** SIGKILL if still running; resolves after exit. */
  kill(): Promise<void>;
}

/**
 * Starts the service. `env` is the whole environment apart from PATH and HOME: METRICS_ACCESS_*
 * variables of the test runner do not leak in.
 */
export function spawnService(args: readonly string[], env: NodeJS.ProcessEnv = {}): ServiceProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: ROOT,
    // The admin port on a free port, unless `env` says otherwise: 9464 would be taken by the first.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN: "127.0.0.1:0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const logLines = () =>
    out
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logLines,
    exited,
    async serving(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = out
          .split("\n")
          .slice(0, -1) // the last piece may be a line still being written
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => typeof l.listen === "string");
        if (line) return Number(String(line.listen).split(":").pop());
        if (done) throw new Error(`the service exited before serving:\n${err}\n${out}`);
        if (Date.now() > deadline)
          throw new Error(`the service did not serve within ${timeoutMs} ms:\n${err}\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      if (!done) child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/**
 * Writes `files` (name → INI text) into a fresh directory under .run, then runs
 * `node --import tsx src/main.ts [command…] --config-file <each file>` from the repository root with
 * `env` added (every inherited METRICS_ACCESS* variable removed), until it exits. A process still
 * running after `timeoutMs` is killed (SIGKILL) and the result says so through `signal`.
 */
export async function runMain(
  files: Readonly<Record<string, string>>,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; command?: readonly string[] } = {},
): Promise<ProcessResult> {
  await mkdir(join(ROOT, ".run"), { recursive: true });
  const dir = await mkdtemp(join(ROOT, ".run", "main-"));
  const args: string[] = [...(options.command ?? [])];
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFile(path, text, { mode: 0o600 });
    args.push("--config-file", path);
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("METRICS_ACCESS")) env[k] = v;
  Object.assign(env, options.env ?? {});
  const started = performance.now();
  try {
    const service = spawnService(args, env);
    const timer = setTimeout(() => service.child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    const { code, signal } = await service.exited;
    clearTimeout(timer);
    return {
      code,
      signal,
      stdout: service.stdout(),
      stderr: service.stderr(),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    // The files may hold (test) secrets: leave nothing behind.
    await rm(dir, { recursive: true, force: true });
  }
}

/** An INI file from `section.option` → value pairs. */
export function iniText(options: Options): string {
  const sections = new Map<string, string[]>();
  for (const [key, value] of Object.entries(options)) {
    const split = key.lastIndexOf(".");
    const [section, option] = [key.slice(0, split), key.slice(split + 1)];
    const lines = sections.get(section) ?? [];
    lines.push(`${option} = ${value}`);
    sections.set(section, lines);
  }
  return [...sections].map(([s, lines]) => `[${s}]\n${lines.join("\n")}\n`).join("\n");
}
