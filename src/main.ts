#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config/load.js";
import { isMetricsAccessError } from "./errors.js";
import { createLogger } from "./log.js";

/** Exit codes: 0 after a clean SIGTERM/SIGINT stop, 2 for configuration errors, 1 for start-up failures. */
async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ argv: process.argv.slice(2), env: process.env, readFile: (p) => readFileSync(p) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`metrics-access: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.server.logLevel);
  let app: Awaited<ReturnType<typeof startApp>>;
  try {
    app = await startApp(config, logger);
  } catch (err) {
    const message = isMetricsAccessError(err) ? err.message : "unexpected start-up failure";
    logger.fatal({ err }, `cannot start: ${message}`);
    process.stderr.write(`metrics-access: cannot start: ${message}\n`);
    return 1;
  }
  // The log is buffered (log.ts): the line saying where it serves is wanted now, not in a second.
  logger.flush();
  return await new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "stopping: draining calls in flight");
      logger.flush();
      app.stop().then(
        () => {
          logger.info("stopped");
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, "unclean stop");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`metrics-access: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
