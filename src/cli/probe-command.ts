import { formatListenAddress } from "../config/listen-address.js";
import type { ListenAddress } from "../config/types.js";
import { dialAddress } from "./address.js";
import type { Command } from "./args.js";
import type { CliContext } from "./context.js";
import { ListenSettingsError, readListenSettings } from "./listen-settings.js";
import { probeHealth } from "./probe.js";

/**
 * probe: 0 when the server says SERVING, 1 for anything else. Never 2 for what it finds: Docker
 * reserves a HEALTHCHECK's exit code 2, and an unreadable configuration is one more reason the
 * server cannot be seen to serve.
 */
export async function runProbe(
  command: Extract<Command, { name: "probe" }>,
  context: CliContext,
): Promise<number> {
  let settings: ReturnType<typeof readListenSettings>;
  try {
    settings = readListenSettings({
      configFiles: command.configFiles,
      env: context.env,
      readFile: context.readFile,
    });
  } catch (err) {
    if (!(err instanceof ListenSettingsError)) throw err;
    context.stderr(`probe: ${err.message}\n`);
    return 1;
  }
  const address: ListenAddress = dialAddress(command.address ?? settings.listen);
  if (address.kind === "tcp" && address.port === 0) {
    context.stderr(
      `probe: [metrics_access] listen ${formatListenAddress(settings.listen)} picks a port at start-up; pass --address\n`,
    );
    return 1;
  }
  const outcome = await probeHealth({ address, tls: settings.tls, timeoutMs: command.timeoutMs });
  if (outcome.serving) {
    context.stdout(`${outcome.line}\n`);
    return 0;
  }
  context.stderr(`${outcome.line}\n`);
  return 1;
}
