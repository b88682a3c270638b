/**
 * Which Node the tests run on, printed from inside a test worker. scripts/test.sh's second pass
 * sets EXPECTED_NODE_MAJOR=24, and this fails unless the workers really run that Node; every pass
 * also holds the running Node to package.json's `engines`, so that it names only what is tested.
 */
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";

/** `engines.node` as this project writes it: caret ranges joined by `||`, e.g. `^20.19.0 || ^24.0.0`. */
function satisfiesCaretRanges(version: string, ranges: string): boolean {
  const parse = (v: string) => v.split(".").map(Number) as [number, number, number];
  const [major, minor, patch] = parse(version);
  return ranges.split("||").some((range) => {
    const match = /^\s*\^(\d+\.\d+\.\d+)\s*$/.exec(range);
    if (!match?.[1])
      throw new Error(`engines.node "${ranges}": only ^x.y.z ranges joined by || are read here`);
    const [m, n, p] = parse(match[1]);
    return major === m && (minor > n || (minor === n && patch >= p));
  });
}

it("runs on the Node it was asked to, one that package.json's engines names", async () => {
  console.log(`test workers run on Node ${process.version} (${process.execPath})`);
  const expected = process.env.EXPECTED_NODE_MAJOR;
  if (expected !== undefined) expect(process.versions.node.split(".")[0]).toBe(expected);
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
    engines: { node: string };
  };
  expect(satisfiesCaretRanges(process.versions.node, pkg.engines.node), pkg.engines.node).toBe(true);
});
