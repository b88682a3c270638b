import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./config/types.js";

export type { Logger };

/**
 * Paths pino blanks out, as a second line of defence: secrets are never put in log objects in the
 * first place (the configuration is never logged, upstream errors carry no credentials).
 */
const REDACT = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  'headers["x-auth-token"]',
  'headers["x-subject-token"]',
  "*.application_credential_secret",
];

/**
 * stdout, written in batches: one write(2) per access-log line was the largest single cost of a
 * call under load (about 20 µs of CPU a call, docs/performance.md). Lines wait until 4 KiB have
 * gathered or a second has passed; pino writes what is left synchronously when the process exits,
 * crash included. Only a SIGKILL (or an OOM kill) loses lines: at most the last second's.
 */
const BUFFERED_STDOUT = { dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 } as const;

/**
 * JSON lines on stdout, buffered (see BUFFERED_STDOUT; `flush` writes them out at once), or on
 * `destination`; string levels, ISO times.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "metrics-access" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    destination ?? pino.destination(BUFFERED_STDOUT),
  );
}
