import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningApp, startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { createLogger } from "../../src/log.js";

/** Options as `section.option` → value, e.g. { "prometheus_client.host": "127.0.0.1" }. */
export type Options = Record<string, string>;

export interface TestApp {
  readonly app: RunningApp;
  readonly url: string;
  readonly client: Client<typeof MetricsService>;
  /** Every JSON log line the app wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Every log line as written, for secret checks. */
  readonly rawLog: () => string;
  stop(): Promise<void>;
}

/** The options as the environment overrides an operator would set. */
export function asEnvironment(options: Options): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(options)) {
    const [section, option] = key.split(".");
    env[`METRICS_ACCESS__${section?.toUpperCase()}__${option?.toUpperCase()}`] = value;
  }
  return env;
}

/**
 * The service in this process (so coverage sees it), configured through the same loader main.ts
 * uses, listening on a free port, logging into memory.
 */
export async function startTestApp(options: Options): Promise<TestApp> {
  const config = loadConfig({
    argv: [],
    env: asEnvironment({
      "metrics_access.listen": "127.0.0.1:0",
      "metrics_access.log_level": "debug",
      ...options,
    }),
    readFile: (path) => readFileSync(path),
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString("utf8"));
      callback();
    },
  });
  const logger = createLogger(config.server.logLevel, sink);
  const app = await startApp(config, logger);
  const url = `http://127.0.0.1:${app.port}`;
  const client = createClient(MetricsService, createGrpcTransport({ baseUrl: url }));
  return {
    app,
    url,
    client,
    get logs() {
      return lines
        .flatMap((l) => l.split("\n").filter((x) => x !== ""))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    rawLog: () => lines.join(""),
    stop: () => app.stop(),
  };
}
