export interface ReadinessOptions {
  /** Resolves when the upstream answers; rejects (or outlives `timeoutMs`) when it does not. */
  readonly probe: (signal: AbortSignal) => Promise<void>;
  /** Time between the end of one probe and the start of the next. */
  readonly intervalMs: number;
  /** How long one probe may take before it counts as failed. */
  readonly timeoutMs: number;
  /** Called at every change of state, after the first probe too; `err` is why a probe failed. */
  readonly onChange: (ready: boolean, err: unknown) => void;
}

/**
 * Whether the upstream answers, as the last probe found: probes run one at a time, `intervalMs`
 * apart, each aborted after `timeoutMs`. /readyz and the gRPC health service follow it through
 * `onChange`, so both change at the same moment.
 */
export class Readiness {
  readonly #options: ReadinessOptions;
  #ready = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: AbortController | undefined;

  constructor(options: ReadinessOptions) {
    this.#options = options;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Runs the first probe, reports its outcome through onChange, and schedules the next ones. */
  async start(): Promise<void> {
    await this.#probe(true);
  }

  /** Stops probing; a probe in flight is aborted and its outcome dropped. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#running?.abort();
  }

  async #probe(first: boolean): Promise<void> {
    const controller = new AbortController();
    this.#running = controller;
    const timeout = setTimeout(
      () => controller.abort(new Error(`no answer within ${this.#options.timeoutMs} ms`)),
      this.#options.timeoutMs,
    );
    let ready = true;
    let error: unknown;
    try {
      await this.#options.probe(controller.signal);
    } catch (err) {
      ready = false;
      error = controller.signal.aborted ? controller.signal.reason : err;
    } finally {
      clearTimeout(timeout);
    }
    if (this.#stopped) return;
    if (first || ready !== this.#ready) {
      this.#ready = ready;
      this.#options.onChange(ready, error);
    }
    this.#timer = setTimeout(() => void this.#probe(false), this.#options.intervalMs);
    this.#timer.unref();
  }
}
