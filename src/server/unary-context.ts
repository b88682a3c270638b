import type { IncomingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";
import { peerContext } from "./peer.js";

/** What the fast path knows of a call when it hands it to the implementation. */
export interface UnaryContextInit {
  readonly method: DescMethod;
  /** "/package.Service/Method". */
  readonly url: string;
  /** The call's own signal: the fast path aborts it at the deadline, on cancel and at shutdown. */
  readonly signal: AbortSignal;
  /** Date.now() at the deadline; undefined without grpc-timeout. */
  readonly deadlineAt: number | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket | null | undefined;
}

/**
 * The HandlerContext of a call the fast path serves. connect's createHandlerContext is built for
 * its own handlers, which end every call with `abort()`: it arms a second deadline timer, links two
 * more AbortControllers to the request's signal and builds three Headers, on every call. Unended,
 * as the fast path would leave it, each call's timer stayed armed until its deadline (a caller's 30
 * s timeout kept a stopped service alive for 30 s). Here the call's own signal is the context's,
 * the deadline is a number, and the headers and context values (the peer, for caller
 * authentication) are built only when a handler reads them.
 */
export class UnaryCallContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly url: string;
  readonly signal: AbortSignal;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly #deadlineAt: number | undefined;
  readonly #headers: IncomingHttpHeaders;
  readonly #socket: Socket | null | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #values: ContextValues | undefined;

  constructor(init: UnaryContextInit) {
    this.method = init.method;
    this.service = init.method.parent;
    this.url = init.url;
    this.signal = init.signal;
    this.#deadlineAt = init.deadlineAt;
    this.#headers = init.headers;
    this.#socket = init.socket;
  }

  /** Milliseconds left until the deadline (negative once past); undefined without one. */
  readonly timeoutMs = (): number | undefined =>
    this.#deadlineAt === undefined ? undefined : this.#deadlineAt - Date.now();

  /** The request's headers, pseudo-headers left out, as connect gives them to handlers. */
  get requestHeader(): Headers {
    this.#requestHeader ??= requestHeaderOf(this.#headers);
    return this.#requestHeader;
  }

  /** Accepted for the interface's sake: the fast path answers with its own headers and trailers. */
  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  /** Carries the connection's peer (PEER), read once per connection. */
  get values(): ContextValues {
    this.#values ??= peerContext(this.#socket);
    return this.#values;
  }
}

function requestHeaderOf(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) out.append(key, item);
  }
  return out;
}
