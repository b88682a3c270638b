import type { ConnectError } from "@connectrpc/connect";

/**
 * The calls in flight, each with its own AbortController, so that the end of the shutdown grace
 * period can cancel them all. It replaces connect's `shutdownSignal`, which links every call to one
 * shared AbortSignal: one listener per call on it, and Node's MaxListenersExceededWarning from the
 * eleventh concurrent call on.
 */
export class InFlightCalls {
  readonly #calls = new Set<AbortController>();
  #cancelled: ConnectError | undefined;

  /** A controller for a new call; a call begun after `cancelAll` starts aborted. */
  begin(): AbortController {
    const controller = new AbortController();
    if (this.#cancelled !== undefined) controller.abort(this.#cancelled);
    else this.#calls.add(controller);
    return controller;
  }

  /** Forgets a call that has ended. */
  end(controller: AbortController): void {
    this.#calls.delete(controller);
  }

  /** Aborts every call in flight, and every later one, with `reason`. */
  cancelAll(reason: ConnectError): void {
    this.#cancelled = reason;
    const calls = [...this.#calls];
    this.#calls.clear();
    for (const controller of calls) controller.abort(reason);
  }

  get size(): number {
    return this.#calls.size;
  }
}
