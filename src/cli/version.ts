import { readFileSync } from "node:fs";

/**
 * The version in package.json, read when asked: this module sits at src/cli/ under tsx and at
 * dist/cli/ once built, and package.json is two levels up from both (in a container image too, as
 * long as package.json is copied beside dist/, which `npm ci` needs anyway).
 */
export function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  const parsed: unknown = JSON.parse(readFileSync(url, "utf8"));
  const version = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "version") : undefined;
  if (typeof version !== "string") throw new Error(`${url.pathname} has no version`);
  return version;
}
