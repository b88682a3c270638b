import type { Command } from "./args.js";
import { checkConfig } from "./check-config.js";
import type { CliContext } from "./context.js";
import { formatJson, formatText } from "./report.js";
import { packageVersion } from "./version.js";

/** check-config: the report on stdout, as a table or JSON; the exit code is the report's. */
export async function runCheckConfig(
  command: Extract<Command, { name: "check-config" }>,
  context: CliContext,
): Promise<number> {
  const report = await checkConfig(command, context);
  context.stdout(command.json ? formatJson(report, packageVersion()) : formatText(report));
  return report.exitCode;
}
