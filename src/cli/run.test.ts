import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli } from "./run.js";

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    env: {},
    readFile: (path) => readFileSync(path),
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

describe("runCli", () => {
  it("prints package.json's version", async () => {
    expect(await run(["--version"])).toEqual({ code: 0, stdout: `${packageJson.version}\n`, stderr: "" });
  });

  it("prints the global help with every command, and each command's help with its options and exit codes", async () => {
    const global = await run(["--help"]);
    expect(global.code).toBe(0);
    for (const command of ["serve", "check-config", "probe"]) expect(global.stdout).toContain(command);
    const probe = await run(["probe", "--help"]);
    expect(probe.stdout).toMatch(/--address HOST:PORT/);
    expect(probe.stdout).toMatch(/--timeout MS/);
    expect(probe.stdout).toMatch(/Exit codes:\n {2}0 {2}SERVING\n {2}1 /);
    const check = await run(["help", "check-config"]);
    expect(check.stdout).toMatch(/--json/);
    expect(check.stdout).toMatch(/2 {2}invalid configuration/);
  });

  it("exits 2 on a usage error, naming the word and pointing at the right help, on stderr only", async () => {
    expect(await run(["probe", "--adress", "x:1"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'metrics-access: probe: unknown option "--adress"\nSee "metrics-access probe --help".\n',
    });
    const unknown = await run(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('"frobnicate"');
    expect(unknown.stderr).toContain('See "metrics-access --help"');
  });
});
