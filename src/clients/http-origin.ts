import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
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

/**
 * Requests to one origin over keep-alive connections, with node:http rather than undici: for the
 * few small requests per call this service makes, node:http's native parser costs about as much
 * CPU, and leaving undici out (its JavaScript and its WebAssembly parser) keeps some 20 MB off the
 * resident size of a sidecar (docs/performance.md). Timeouts and the size limit are enforced here;
 * failures reject with Node's error (its `code` says what happened) or an HttpOriginError.
 */
export class HttpOrigin {
  readonly #options: HttpOriginOptions;
  readonly #agent: HttpAgent;
  readonly #send: typeof httpRequest;
  readonly #host: string;
  readonly #port: number;
  readonly #watchdog: Watchdog;

  constructor(options: HttpOriginOptions) {
    this.#options = options;
    const url = new URL(options.origin);
    const https = url.protocol === "https:";
    // URL keeps an IPv6 literal in brackets; the socket wants the bare address.
    this.#host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.#port = url.port === "" ? (https ? 443 : 80) : Number(url.port);
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      timeout: options.idleTimeoutMs,
      scheduling: "lifo" as const,
    };
    this.#watchdog = new Watchdog(
      Math.min(1000, Math.min(options.connectTimeoutMs, options.timeoutMs) / 4),
      () => this.#expire(),
    );
    if (https) {
      const tls = options.tls;
      this.#agent = new HttpsAgent({
        ...agentOptions,
        ...(tls && { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized }),
      });
      this.#send = httpsRequest;
    } else {
      this.#agent = new HttpAgent(agentOptions);
      this.#send = httpRequest;
    }
  }

  /**
   * Sends `request` and reads the whole answer. A kept-alive connection the origin closed while it
   * lay idle fails at once with ECONNRESET before any answer; the request is then sent once more on
   * a fresh connection (every request this service makes can be repeated safely).
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
      const req = this.#send({
        host: this.#host,
        port: this.#port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent: this.#agent,
      });
      const pending: Pending = { req, since: performance.now(), body: false, fail: (err) => fail(err) };
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (err: unknown, answer?: HttpAnswer) => {
        if (settled) return;
        settled = true;
        this.#watchdog.delete(pending);
        signal?.removeEventListener("abort", onAbort);
        if (answer) resolve(answer);
        else reject(err);
      };
      /** Ends the request with `err` as the reason, whatever the socket reports as it closes. */
      const fail = (err: unknown) => {
        settle(err);
        req.destroy();
      };
      // http.request's own `signal` option costs tens of microseconds a request (it tracks the
      // stream's end); a listener removed when the request settles does the same job.
      const onAbort = () => fail(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#watchdog.add(pending);
      req.on("error", (err: NodeJS.ErrnoException) => {
        settle(
          pending.body || !req.reusedSocket || err.code !== "ECONNRESET" ? err : new StaleConnection(err),
        );
      });
      req.once("response", (res: IncomingMessage) => {
        pending.body = true;
        pending.since = performance.now();
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.#options.maxResponseBytes) {
            fail(new HttpOriginError("RESPONSE_TOO_LARGE", "the answer is larger than allowed"));
            return;
          }
          chunks.push(chunk);
          pending.since = performance.now();
        });
        res.once("end", () => {
          const text = Buffer.concat(chunks, size).toString("utf8");
          settle(undefined, { status: res.statusCode ?? 0, headers: res.headers, text });
        });
        res.on("error", (err) => settle(err));
        // A connection closed in the middle of the body ends the message without "end".
        res.once("close", () => {
          if (!res.complete)
            settle(Object.assign(new Error("the answer was cut off"), { code: "ECONNRESET" }));
        });
      });
      req.end(request.body);
    });
  }

  /** Ends the requests that waited too long: for a connection, for the headers, between two chunks. */
  #expire(): void {
    const now = performance.now();
    const { connectTimeoutMs, timeoutMs } = this.#options;
    for (const pending of this.#watchdog.pending) {
      const waited = now - pending.since;
      const connecting = !pending.body && (pending.req.socket === null || pending.req.socket.connecting);
      if (connecting && waited > connectTimeoutMs) {
        pending.fail(new HttpOriginError("CONNECT_TIMEOUT", "no connection in time"));
      } else if (waited > timeoutMs) {
        pending.fail(
          pending.body
            ? new HttpOriginError("BODY_TIMEOUT", "the answer stalled")
            : new HttpOriginError("HEADERS_TIMEOUT", "no answer in time"),
        );
      }
    }
  }

  /**
   * Closes every connection at once. It runs after the server has drained, when the only requests
   * left are shared loads nobody waits for, which a graceful close would wait out.
   */
  close(): void {
    this.#watchdog.stop();
    this.#agent.destroy();
  }
}

/** A request in flight, as the watchdog sees it. */
interface Pending {
  readonly req: ClientRequest;
  /** When the request was sent, or the last body chunk came (performance.now()). */
  since: number;
  /** Whether the headers have come and the body is being read. */
  body: boolean;
  /** Ends the request with this error. */
  readonly fail: (err: Error) => void;
}

/**
 * One timer for every request of an origin instead of a timer or two per request: it looks at the
 * requests in flight every quarter of the shortest timeout (at most every second), so a timeout
 * strikes within a quarter of its length after it is due. Unreferenced: it never keeps the process up.
 */
class Watchdog {
  readonly pending = new Set<Pending>();
  readonly #timer: NodeJS.Timeout;

  constructor(periodMs: number, check: () => void) {
    this.#timer = setInterval(check, periodMs).unref();
  }

  add(pending: Pending): void {
    this.pending.add(pending);
  }

  delete(pending: Pending): void {
    this.pending.delete(pending);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A reused keep-alive connection that turned out closed: worth one more try. */
class StaleConnection extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super("kept-alive connection closed by the origin");
  }
}
