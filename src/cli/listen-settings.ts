import { type IniSections, parseIni } from "../config/ini.js";
import { parseListenAddress } from "../config/listen-address.js";
import { CONFIG_FILE_ENV } from "../config/load.js";
import { OptionReader } from "../config/options.js";
import { SERVICE_SECTION } from "../config/schema.js";
import type { ListenAddress } from "../config/types.js";
import { errorCodeOf } from "../errors.js";

/** Where the server listens and whether it speaks TLS, as serve would read them. */
export interface ListenSettings {
  /** host:port, or a unix socket. */
  readonly listen: ListenAddress;
  readonly tls: boolean;
}

/** The files could not be read or `listen` is malformed: the probe cannot know where to knock. */
export class ListenSettingsError extends Error {
  override readonly name = "ListenSettingsError";
}

/**
 * `[metrics_access] listen`, `tls_certfile` and `tls_keyfile` from the same files, environment and
 * defaults as serve (the loader's INI parser and option reader), and nothing else: a health probe
 * answers whether the server serves, and must not fail because, say, the datasource options are
 * not in its environment (a HEALTHCHECK does not get the server's command-line arguments) —
 * judging the whole configuration is check-config's job.
 */
export function readListenSettings(input: {
  readonly configFiles: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly readFile: (path: string) => Buffer;
}): ListenSettings {
  const fromEnv = input.env[CONFIG_FILE_ENV];
  const files = input.configFiles.length > 0 ? input.configFiles : fromEnv ? [fromEnv] : [];
  const sections: IniSections = new Map();
  for (const file of files) {
    try {
      parseIni(input.readFile(file).toString("utf8"), file, sections);
    } catch (err) {
      throw new ListenSettingsError(
        err instanceof SyntaxError ? err.message : `cannot read ${file} (${errorCodeOf(err, "unreadable")})`,
      );
    }
  }
  const reader = new OptionReader(sections, input.env, input.readFile);
  const text = reader.string(SERVICE_SECTION, "listen") ?? "";
  const listen = parseListenAddress(text);
  if (listen === undefined) {
    throw new ListenSettingsError(
      `[${SERVICE_SECTION}] listen "${text}" is not host:port or unix:/absolute/path`,
    );
  }
  const tls = reader.isSet(SERVICE_SECTION, "tls_certfile") && reader.isSet(SERVICE_SECTION, "tls_keyfile");
  return { listen, tls };
}
