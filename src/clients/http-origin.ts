import {
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
    const { connectTimeoutMs, timeoutMs, maxResponseBytes } = this.#options;
    return new Promise<HttpAnswer>((resolve, reject) => {
      let answered = false;
      const req = this.#send({
        host: this.#host,
        port: this.#port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent: this.#agent,
        signal: request.signal,
      });
      // Headers are awaited from the moment the request is sent; a new connection first gets its own,
      // shorter, connect timer.
      const headersTimeout = () => req.destroy(new HttpOriginError("HEADERS_TIMEOUT", "no answer in time"));
      let timer = setTimeout(headersTimeout, timeoutMs);
      req.once("socket", (socket) => {
        if (!socket.connecting) return;
        clearTimeout(timer);
        timer = setTimeout(
          () => req.destroy(new HttpOriginError("CONNECT_TIMEOUT", "no connection in time")),
          connectTimeoutMs,
        );
        socket.once("connect", () => {
          clearTimeout(timer);
          timer = setTimeout(headersTimeout, timeoutMs);
        });
      });
      req.once("response", (res: IncomingMessage) => {
        answered = true;
        clearTimeout(timer);
        readBody(res, timeoutMs, maxResponseBytes).then(
          (text) => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }),
          (err: unknown) => {
            req.destroy();
            reject(err);
          },
        );
      });
      req.once("close", () => clearTimeout(timer));
      req.on("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (answered) return;
        reject(req.reusedSocket && err.code === "ECONNRESET" ? new StaleConnection(err) : err);
      });
      req.end(request.body);
    });
  }

  /**
   * Closes every connection at once. It runs after the server has drained, when the only requests
   * left are shared loads nobody waits for, which a graceful close would wait out.
   */
  close(): void {
    this.#agent.destroy();
  }
}

/** A reused keep-alive connection that turned out closed: worth one more try. */
class StaleConnection extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super("kept-alive connection closed by the origin");
  }
}

function readBody(res: IncomingMessage, idleMs: number, maxBytes: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: Error) => {
      clearTimeout(idle);
      if (settled) return;
      settled = true;
      res.destroy();
      reject(err);
    };
    const idle = setTimeout(() => fail(new HttpOriginError("BODY_TIMEOUT", "the answer stalled")), idleMs);
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        fail(new HttpOriginError("RESPONSE_TOO_LARGE", `the answer exceeds ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
      idle.refresh();
    });
    res.once("end", () => {
      clearTimeout(idle);
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size).toString("utf8"));
    });
    res.on("error", fail);
    // A connection closed in the middle of the body ends the message without "end".
    res.once("close", () => {
      if (!res.complete) fail(Object.assign(new Error("the answer was cut off"), { code: "ECONNRESET" }));
    });
  });
}
