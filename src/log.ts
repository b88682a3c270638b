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

/** JSON lines on stdout (or `destination`), string levels, ISO times. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "metrics-access" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    destination,
  );
}
