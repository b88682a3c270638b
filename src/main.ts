#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { runCli } from "./cli/run.js";
import { safeMessage } from "./cli/safe-message.js";

// `metrics-access [serve|check-config|probe] …`: the commands are in src/cli/, the manual in docs/cli.md.
runCli(process.argv.slice(2), {
  env: process.env,
  readFile: (path) => readFileSync(path),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`metrics-access: ${safeMessage(err)}\n`);
    process.exitCode = 1;
  },
);
