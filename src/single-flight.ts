/**
 * The one single-flight helper of the service: while a piece of work runs under a key, every caller
 * asking for the same key shares it; the next call after it settles starts anew. Used for the
 * target list, the series names, the Keystone token and identical upstream queries in flight.
 *
 * Each caller may bring its own abort signal: an aborted caller stops waiting at once (with its
 * signal's reason), and the work itself is aborted only when every caller that waits for it has
 * gone. A caller without a signal keeps the work alive.
 */
export class SingleFlight<K, T> {
  readonly #flights = new Map<K, Flight<T>>();

  /** Whether work runs under `key` now. */
  has(key: K): boolean {
    return this.#flights.has(key);
  }

  run(key: K, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      const controller = new AbortController();
      const created: Flight<T> = { controller, waiters: 0, promise: Promise.resolve(undefined as T) };
      created.promise = work(controller.signal).finally(() => {
        if (this.#flights.get(key) === created) this.#flights.delete(key);
      });
      // A flight everyone left must not report its failure as unhandled.
      created.promise.catch(() => {});
      this.#flights.set(key, created);
      flight = created;
    }
    return wait(flight, signal);
  }
}

interface Flight<T> {
  promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
}

function wait<T>(flight: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) {
    flight.waiters = Number.POSITIVE_INFINITY;
    return flight.promise;
  }
  flight.waiters++;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      if (--flight.waiters === 0) flight.controller.abort(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    flight.promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
