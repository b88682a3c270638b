import { type Command, parseCommandLine, UsageError } from "./args.js";
import type { CliContext } from "./context.js";
import { helpText } from "./help.js";
import { packageVersion } from "./version.js";

/**
 * Runs the command the arguments name and resolves with the process's exit code. Each command's
 * module is imported only when it runs: `probe` runs every few seconds in a container and should
 * not load the server, the metric catalogue's PromQL parser and the upstream clients to do it.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const help = err.command === undefined ? "metrics-access --help" : `metrics-access ${err.command} --help`;
    context.stderr(`metrics-access: ${err.message}\nSee "${help}".\n`);
    return 2;
  }
  switch (command.name) {
    case "help":
      context.stdout(helpText(command.topic, packageVersion()));
      return 0;
    case "version":
      context.stdout(`${packageVersion()}\n`);
      return 0;
    case "serve": {
      const { serve } = await import("./serve.js");
      return await serve(command.configFiles, context);
    }
    case "check-config": {
      const { runCheckConfig } = await import("./check-config-command.js");
      return await runCheckConfig(command, context);
    }
    case "probe": {
      const { runProbe } = await import("./probe-command.js");
      return await runProbe(command, context);
    }
  }
}
