import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A real program started by the test setup; its output goes to `<logDir>/<name>.log`. */
export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: readonly string[];
  logDir: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const running = new Set<RunningProcess>();

export async function spawnLogged(options: SpawnOptions): Promise<RunningProcess> {
  await mkdir(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Both pipes share the file: neither may end it; the child's "close" (both pipes drained) does.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  child.once("close", () => log.end());
  child.once("error", (err) => log.write(`spawn error: ${err.message}\n`));
  const proc: RunningProcess = {
    name: options.name,
    child,
    logFile,
    async stop(graceMs = 5_000) {
      running.delete(proc);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process spawned through this module that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** A TCP port on `host` (default 127.0.0.1; `::1` for the IPv6 loopback) that was free a moment ago. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `probe` until it returns true; fails with the process's log tail when the process exits
 * first or the time runs out.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; process?: RunningProcess; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    const child = options.process?.child;
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${options.process?.name} exited before ${what}; see ${options.process?.logFile}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/**
 * waitUntil for a process just started: when it does not get ready (it exits, or the time runs
 * out) it is stopped before the error is thrown, so a failed start, or a withPortRetry attempt,
 * leaves nothing running.
 */
export async function waitUntilOrStop(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; process: RunningProcess; intervalMs?: number },
): Promise<void> {
  try {
    await waitUntil(what, probe, options);
  } catch (err) {
    await options.process.stop();
    throw err;
  }
}

/**
 * Tries `start` on a fresh free port of `host`; retries on another when the process died before it
 * was ready (waitUntil's "exited before"), because another process may have taken the port between
 * freePort() and the bind.
 */
export async function withPortRetry<T>(start: (port: number) => Promise<T>, host = "127.0.0.1"): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start(await freePort(host));
    } catch (err) {
      lastError = err;
      if (!(err instanceof Error && err.message.includes("exited before"))) throw err;
    }
  }
  throw lastError;
}

/**
 * After Promise.allSettled over starts that each keep what they started (so the caller's clean-up
 * can stop it): throws the first failure.
 */
export function throwFirstFailure(results: readonly PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** True when GET `url` answers with a 2xx status. */
export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok;
}
