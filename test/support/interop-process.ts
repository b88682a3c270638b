/**
 * The real entry point as a separate process: `node --import tsx src/main.ts ARGS`, with its
 * stdout (JSON log lines) and stderr collected in memory and its exit awaited.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

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
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
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
