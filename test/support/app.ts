import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningApp, startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { MetricsService } from "../../src/gen/metricsaccess/v1/metrics_pb.js";
import { createLogger } from "../../src/log.js";
import { asEnvironment } from "./environment.js";

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

/** The ConnectError `call` fails with; throws when it answers instead, or fails with anything else. */
export async function callError(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => new Error("expected an error, got an answer"),
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw err;
  return err;
}

export type StartOutcome =
  | { readonly ok: true; readonly app: TestApp }
  | { readonly ok: false; readonly error: unknown; readonly rawLog: () => string };

/**
 * The service in this process (so coverage sees it), configured through the same loader main.ts
 * uses, listening on a free port, logging into memory.
 */
export async function startTestApp(options: Options): Promise<TestApp> {
  const outcome = await tryStartTestApp(options);
  if (!outcome.ok) throw outcome.error;
  return outcome.app;
}

/**
 * Like {@link startTestApp}, but a failed start-up resolves with the error and every log line
 * written before it, instead of rejecting.
 */
export async function tryStartTestApp(options: Options): Promise<StartOutcome> {
  const lines: string[] = [];
  const rawLog = () => lines.join("");
  try {
    const config = loadConfig({
      argv: [],
      env: asEnvironment({
        "metrics_access.listen": "127.0.0.1:0",
        "metrics_access.admin_listen": "127.0.0.1:0",
        "metrics_access.log_level": "debug",
        ...options,
      }),
      readFile: (path) => readFileSync(path),
    });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString("utf8"));
        callback();
      },
    });
    const app = await startApp(config, createLogger(config.server.logLevel, sink));
    const url = `http://127.0.0.1:${app.port}`;
    return {
      ok: true,
      app: {
        app,
        url,
        client: createClient(MetricsService, createGrpcTransport({ baseUrl: url })),
        get logs() {
          return lines
            .flatMap((l) => l.split("\n").filter((x) => x !== ""))
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        },
        rawLog,
        stop: () => app.stop(),
      },
    };
  } catch (error) {
    return { ok: false, error, rawLog };
  }
}
