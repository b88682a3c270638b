import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher, errors, Pool } from "undici";
import PoolOfUndici from "undici/lib/dispatcher/pool.js";
import type { TlsMaterial } from "../config/types.js";

/**
 * Why a request got no answer, when Node's own error codes (ECONNREFUSED, ECONNRESET, the TLS
 * verification codes) do not say it: these are this module's timers and limits.
 */
export type HttpOriginErrorCode =
  | "CONNECT_TIMEOUT"
  | "HEADERS_TIMEOUT"
  | "BODY_TIMEOUT"
  | "RESPONSE_TOO_LARGE";

export class HttpOriginError extends Error {
  readonly code: HttpOriginErrorCode;

  constructor(code: HttpOriginErrorCode, message: string) {
    super(message);
    this.name = "HttpOriginError";
    this.code = code;
  }
}

export interface HttpOriginOptions {
  /** scheme://host:port; http or https. */
  readonly origin: string;
  readonly tls?: TlsMaterial | undefined;
  /** Longest wait for a TCP connection. */
  readonly connectTimeoutMs: number;
  /** Longest wait for the answer's headers once the request is sent, and between two body chunks. */
  readonly timeoutMs: number;
  /** Connections kept open to the origin at most. */
  readonly maxSockets: number;
  /** An answer whose body grows past this is abandoned (a broken or hostile upstream). */
  readonly maxResponseBytes: number;
  /** An idle keep-alive connection is closed after this. */
  readonly idleTimeoutMs: number;
}

export interface HttpRequest {
  readonly method: "GET" | "POST";
  /** Path and query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** undici's codes for its own timers and limits, as this module names them. */
const OWN_CODES: Readonly<Record<string, readonly [HttpOriginErrorCode, string]>> = {
  UND_ERR_CONNECT_TIMEOUT: ["CONNECT_TIMEOUT", "no connection in time"],
  UND_ERR_HEADERS_TIMEOUT: ["HEADERS_TIMEOUT", "no answer in time"],
  UND_ERR_BODY_TIMEOUT: ["BODY_TIMEOUT", "the answer stalled"],
  UND_ERR_RES_EXCEEDED_MAX_SIZE: ["RESPONSE_TOO_LARGE", "the answer is larger than allowed"],
};

/**
 * Requests to one origin over keep-alive connections, with undici's `Pool` driven through its
 * low-level `dispatch`: no stream per answer, the body gathered as it comes. undici saves about
 * 0.1 ms a request against node:http (docs/performance.md); the WebAssembly parser it brings is
 * why main.ts keeps V8 from recompiling WebAssembly with its optimising tier. Timeouts and the size
 * limit are undici's; failures reject with Node's error (its `code` says what happened) or an
 * HttpOriginError.
 */
export class HttpOrigin {
  readonly #pool: Pool;

  constructor(options: HttpOriginOptions) {
    const tls = options.tls;
    this.#pool = new PoolOfUndici(new URL(options.origin).origin, {
      connections: options.maxSockets,
      connect: {
        timeout: options.connectTimeoutMs,
        ...(tls && { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized }),
      },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: options.idleTimeoutMs,
      keepAliveMaxTimeout: options.idleTimeoutMs,
      maxResponseSize: options.maxResponseBytes,
    });
  }

  /**
   * Sends `request` and reads the whole answer. A kept-alive connection the origin closed while it
   * lay idle fails before any answer; the request is then sent once more on a fresh connection
   * (every request this service makes can be repeated safely).
   */
  async request(request: HttpRequest): Promise<HttpAnswer> {
    try {
      return await this.#attempt(request);
    } catch (err) {
      if (err instanceof StaleConnection && !request.signal?.aborted) return await this.#attempt(request);
      throw err instanceof StaleConnection ? err.cause : err;
    }
  }

  #attempt(request: HttpRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const { signal } = request;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      new AnswerReader(request, resolve, reject).dispatchOn(this.#pool);
    });
  }

  /**
   * Closes every connection at once. It runs after the server has drained, when the only requests
   * left are shared loads nobody waits for, which a graceful close would wait out.
   */
  close(): void {
    // Never rejects: the requests still in flight fail with undici's ClientDestroyedError.
    void this.#pool.destroy();
  }
}

/** One request's undici handler: gathers the answer and settles its promise once. */
class AnswerReader implements Dispatcher.DispatchHandler {
  readonly #request: HttpRequest;
  readonly #resolve: (answer: HttpAnswer) => void;
  readonly #reject: (err: unknown) => void;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  /** The answer's status; 0 until its headers have come. */
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #settled = false;
  #controller: Dispatcher.DispatchController | undefined;

  constructor(request: HttpRequest, resolve: (answer: HttpAnswer) => void, reject: (err: unknown) => void) {
    this.#request = request;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  dispatchOn(pool: Pool): void {
    const { method, path, headers, body, signal } = this.#request;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    pool.dispatch({ method, path, headers, body: body ?? null }, this);
  }

  /** Settles at once with the caller's reason; undici drops the request when it reaches a socket. */
  readonly #onAbort = (): void => {
    const reason: unknown = this.#request.signal?.reason;
    this.#settle(reason);
    this.#controller?.abort(reason instanceof Error ? reason : new Error("aborted"));
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#settled) controller.abort(new Error("aborted"));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.#status = status;
    this.#headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  onResponseEnd(): void {
    const text = Buffer.concat(this.#chunks, this.#size).toString("utf8");
    this.#settle(undefined, { status: this.#status, headers: this.#headers, text });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#settle(this.#explain(err));
  }

  #explain(err: Error): unknown {
    const code = (err as { code?: unknown }).code;
    const own = typeof code === "string" ? OWN_CODES[code] : undefined;
    if (own) return new HttpOriginError(own[0], own[1]);
    if (code !== "UND_ERR_SOCKET") return err;
    // The origin closed the connection: reported with Node's code for it. Before any answer on a
    // connection that had already carried one, it is a kept-alive connection the origin let go.
    const closed = Object.assign(new Error("the connection was closed", { cause: err }), {
      code: "ECONNRESET",
    });
    const reused = ((err as errors.SocketError).socket?.bytesRead ?? 0) > 0;
    return this.#status === 0 && reused ? new StaleConnection(closed) : closed;
  }

  #settle(err: unknown, answer?: HttpAnswer): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#request.signal?.removeEventListener("abort", this.#onAbort);
    if (answer) this.#resolve(answer);
    else this.#reject(err);
  }
}

/** A reused keep-alive connection that turned out closed: worth one more try. */
class StaleConnection extends Error {
  constructor(override readonly cause: Error) {
    super("kept-alive connection closed by the origin");
  }
}
