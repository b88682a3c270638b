import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HttpOrigin, type HttpOriginOptions } from "./http-origin.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const origins: HttpOrigin[] = [];

afterEach(() => {
  for (const origin of origins.splice(0)) origin.close();
  for (const server of servers.splice(0)) server.close().closeAllConnections();
});

async function serve(handler: Handler, host = "127.0.0.1"): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function originOf(url: string, options: Partial<HttpOriginOptions> = {}): HttpOrigin {
  const origin = new HttpOrigin({
    origin: url,
    connectTimeoutMs: 1_000,
    timeoutMs: 1_000,
    maxSockets: 4,
    maxResponseBytes: 1024,
    idleTimeoutMs: 5_000,
    ...options,
  });
  origins.push(origin);
  return origin;
}

const get = (path = "/") => ({ method: "GET" as const, path, headers: { accept: "application/json" } });

describe("HttpOrigin", () => {
  it("sends GET with the path and headers, and POST with a sized body, and reads the answer", async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => {
        seen.push(
          `${req.method} ${req.url} ${req.headers.accept} ${req.headers["content-length"] ?? "-"} ${body}`,
        );
        res.writeHead(201, { "x-subject-token": "t" }).end("é answer");
      });
    });
    const origin = originOf(url);
    const got = await origin.request(get("/api/v1/query?query=up"));
    expect(got).toMatchObject({ status: 201, text: "é answer" });
    expect(got.headers["x-subject-token"]).toBe("t");
    await origin.request({ method: "POST", path: "/form", headers: {}, body: "query=é" });
    expect(seen).toEqual([
      "GET /api/v1/query?query=up application/json - ",
      "POST /form undefined 8 query=é",
    ]);
  });

  it("keeps the connection alive between requests", async () => {
    const ports = new Set<number>();
    const url = await serve((req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      res.end("ok");
    });
    const origin = originOf(url);
    for (let i = 0; i < 10; i++) await origin.request(get());
    // undici's pool frees a connection one turn of the event loop after its answer, so a request
    // sent at once goes to a second one; ten requests in a row still share those two.
    expect(ports.size).toBeLessThanOrEqual(2);
  });

  it("reaches an origin on an IPv6 literal", async () => {
    const url = await serve((_req, res) => res.end("six"), "::1");
    expect((await originOf(url).request(get())).text).toBe("six");
  });

  it("fails with HEADERS_TIMEOUT when no answer comes in time", async () => {
    const url = await serve(() => {});
    await expect(originOf(url, { timeoutMs: 100 }).request(get())).rejects.toMatchObject({
      code: "HEADERS_TIMEOUT",
    });
  });

  it("fails with BODY_TIMEOUT when the body stalls", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200);
      res.write("partial");
    });
    await expect(originOf(url, { timeoutMs: 100 }).request(get())).rejects.toMatchObject({
      code: "BODY_TIMEOUT",
    });
  });

  it("abandons an answer larger than the limit with RESPONSE_TOO_LARGE", async () => {
    const url = await serve((_req, res) => res.end("x".repeat(4096)));
    await expect(originOf(url).request(get())).rejects.toMatchObject({ code: "RESPONSE_TOO_LARGE" });
  });

  it("reports a refused connection with Node's code", async () => {
    const url = await serve((_req, res) => res.end());
    const server = servers.pop() as Server;
    server.close();
    await once(server, "close");
    await expect(originOf(url).request(get())).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("reports a connection cut in the middle of the body", async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("part", () => req.socket.destroy());
    });
    await expect(originOf(url).request(get())).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("stops at once when the caller aborts, with the abort as the reason", async () => {
    const url = await serve(() => {});
    const controller = new AbortController();
    const pending = originOf(url).request({ ...get(), signal: controller.signal });
    const reason = new Error("deadline");
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
  });

  it("sends the request again once when a kept-alive connection turns out closed", async () => {
    // The origin drops the connection as the second request on it arrives, as one does when its
    // idle timeout strikes just as the request is sent: no answer, a reset, on a reused connection.
    const served = new Map<object, number>();
    let connections = 0;
    const url = await serve((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, count);
      if (count === 1) connections += 1;
      if (count === 2) req.socket.destroy();
      else res.end(`answer on connection ${connections}`);
    });
    // One connection at most, so that the second request goes on the first one's connection.
    const origin = originOf(url, { maxSockets: 1 });
    expect((await origin.request(get())).text).toBe("answer on connection 1");
    expect((await origin.request(get())).text).toBe("answer on connection 2");
  });

  it("does not send a request again when a fresh connection fails", async () => {
    let requests = 0;
    const url = await serve((req) => {
      requests += 1;
      req.socket.destroy();
    });
    await expect(originOf(url).request(get())).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(requests).toBe(1);
  });
});
