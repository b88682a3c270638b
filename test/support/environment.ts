import { environmentName } from "../../src/config/schema.js";

/**
 * Options as `section.option` → value (a `[metric.<name>]` option as `metric.<name>.<option>`), as
 * the environment overrides an operator would set: the service's own naming rule, environmentName.
 */
export function asEnvironment(options: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(options)) {
    const split = key.lastIndexOf(".");
    env[environmentName({ section: key.slice(0, split), name: key.slice(split + 1) })] = value;
  }
  return env;
}
