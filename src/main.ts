#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runCli } from "./cli/run.js";
import { safeMessage } from "./cli/safe-message.js";

// undici (clients/http-origin.ts) parses HTTP answers with WebAssembly. Once that parser is hot, V8's
// optimising tier recompiles it, which costs about 30 MB of resident memory and saves nothing
// measurable on answers this small (docs/performance.md). The flag must be set before the first
// connection compiles the parser, and only the service's process should carry it: hence here.
setFlagsFromString("--liftoff-only");

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
