import { isMetricsAccessError, type MetricsAccessError } from "../../src/errors.js";

/** The MetricsAccessError `promise` rejects with; fails the test when it resolves or rejects otherwise. */
export async function refusal(promise: Promise<unknown>): Promise<MetricsAccessError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isMetricsAccessError(err)) throw new Error(`expected a refusal, got ${String(err)}`);
  return err;
}
