/**
 * A TCP proxy on 127.0.0.1 that holds every chunk, in both directions, for `delayMs` before passing
 * it on: a slow network, or a slow upstream, in front of a real server that stays untouched. Order
 * is kept per direction whatever the delay does between chunks; an end or a reset is passed on
 * after the bytes before it. The delay can be changed at any time and applies to chunks read from
 * then on.
 */
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";

export interface DelayProxy {
  readonly host: string;
  readonly port: number;
  /** Milliseconds each chunk is held from now on. */
  setDelay(ms: number): void;
  /** Stops accepting and destroys every connection. */
  close(): Promise<void>;
}

export async function startDelayProxy(options: {
  readonly targetHost: string;
  readonly targetPort: number;
  readonly delayMs: number;
}): Promise<DelayProxy> {
  let delayMs = options.delayMs;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  /** Copies `from` to `to`, each chunk `delayMs` later, in order; `from`'s end or error follows. */
  const pipeDelayed = (from: Socket, to: Socket) => {
    const queue: { readonly at: number; readonly chunk: Buffer | "end" | "reset" }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      if (timer !== undefined) timers.delete(timer);
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0) {
        const head = queue[0];
        if (head === undefined) break;
        if (head.at > now) {
          timer = setTimeout(pump, Math.ceil(head.at - now));
          timers.add(timer);
          return;
        }
        queue.shift();
        if (to.destroyed) continue;
        if (head.chunk === "end") to.end();
        else if (head.chunk === "reset") to.resetAndDestroy();
        else to.write(head.chunk);
      }
    };
    const push = (chunk: Buffer | "end" | "reset") => {
      queue.push({ at: performance.now() + delayMs, chunk });
      if (timer === undefined) pump();
    };
    from.on("data", (chunk: Buffer) => push(chunk));
    from.on("end", () => push("end"));
    from.on("error", () => push("reset"));
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: options.targetHost, port: options.targetPort, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.once("close", () => sockets.delete(socket));
    }
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
    // Both halves ended: nothing more will come either way.
    const closeBoth = () => {
      if (client.readableEnded && upstream.readableEnded) {
        client.destroy();
        upstream.destroy();
      }
    };
    client.on("finish", closeBoth);
    upstream.on("finish", closeBoth);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    host: "127.0.0.1",
    port,
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
