/** The upstreams the service sends HTTP requests to, as the self-metrics label them. */
export type Backend = "prometheus" | "aetos" | "keystone";

/**
 * How one upstream request ended: an answer with a 2xx status, an answer with another status, no
 * answer (connection refused or reset, TLS failure, timeout), or abandoned because the caller's
 * deadline or cancellation came first.
 */
export type UpstreamOutcome = "success" | "http_error" | "transport_error" | "cancelled";

/** Told of every upstream request once it has ended, with its duration (headers and body). */
export type UpstreamObserver = (backend: Backend, outcome: UpstreamOutcome, seconds: number) => void;

/**
 * The one place that measures upstream requests: runs `send` (the request and the reading of its
 * body) and reports its outcome and duration to `observe`, then returns or rethrows as `send` did.
 */
export async function measured<T extends { readonly status: number }>(
  observe: UpstreamObserver | undefined,
  backend: Backend,
  signal: AbortSignal | undefined,
  send: () => Promise<T>,
): Promise<T> {
  if (observe === undefined) return await send();
  const started = performance.now();
  let outcome: UpstreamOutcome = "transport_error";
  try {
    const answer = await send();
    outcome = answer.status >= 200 && answer.status < 300 ? "success" : "http_error";
    return answer;
  } catch (err) {
    if (signal?.aborted) outcome = "cancelled";
    throw err;
  } finally {
    observe(backend, outcome, (performance.now() - started) / 1000);
  }
}
