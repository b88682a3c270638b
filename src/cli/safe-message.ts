import { isMetricsAccessError } from "../errors.js";
import { redactUrlCredentials } from "../redact.js";

/**
 * An error as the operator may see it: our typed errors' messages are written to be safe to show
 * (no URL credentials, tokens or passwords); anything else is reduced to its URL-redacted message.
 */
export function safeMessage(err: unknown): string {
  if (isMetricsAccessError(err)) return err.message;
  return `unexpected error: ${redactUrlCredentials(err instanceof Error ? err.message : String(err))}`;
}
