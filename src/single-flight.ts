/**
 * One run of a piece of shared work at a time: while a run is under way, every caller gets the same
 * promise; the next call after it settles starts a new run. The one single-flight helper of the
 * service (target lists, series names, Keystone tokens). Pair it with `abortable` so that one
 * caller's cancel ends its own wait, not the shared run.
 */
export class SingleFlight<T> {
  #inFlight: Promise<T> | undefined;

  run(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight === undefined) {
      this.#inFlight = work().finally(() => {
        this.#inFlight = undefined;
      });
    }
    return this.#inFlight;
  }
}
