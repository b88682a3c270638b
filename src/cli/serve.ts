import { startApp } from "../app.js";
import { ConfigError, loadConfig } from "../config/load.js";
import type { Config } from "../config/types.js";
import { isMetricsAccessError } from "../errors.js";
import { createLogger } from "../log.js";
import { configFileArgs } from "./args.js";
import type { CliContext } from "./context.js";

/**
 * Runs the service until SIGTERM or SIGINT. Exit codes: 0 after a clean stop, 2 for configuration
 * errors, 1 for start-up failures.
 */
export async function serve(configFiles: readonly string[], context: CliContext): Promise<number> {
  let config: Config;
  try {
    config = loadConfig({ argv: configFileArgs(configFiles), env: context.env, readFile: context.readFile });
  } catch (err) {
    if (err instanceof ConfigError) {
      context.stderr(`metrics-access: ${err.message}\n`);
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
    context.stderr(`metrics-access: cannot start: ${message}\n`);
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
