import { request as http1Request } from "node:http";
import { connect as http2Connect } from "node:http2";
import { connect } from "node:net";
import { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { listen, type Transport } from "./transport.js";

let transport: Transport | undefined;
afterEach(async () => {
  await transport?.drain();
  transport = undefined;
});

async function start(): Promise<Transport> {
  transport = await listen({
    host: "127.0.0.1",
    port: 0,
    tls: undefined,
    onRequest: (req, res) => {
      res.end(`HTTP/${req.httpVersion}`);
    },
    onStream: (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("HTTP/2.0");
    },
  });
  return transport;
}

function getH2(port: number, createConnection?: () => Duplex): Promise<string> {
  const session = http2Connect(`http://127.0.0.1:${port}`, createConnection ? { createConnection } : {});
  return new Promise<string>((resolve, reject) => {
    const stream = session.request({ ":path": "/" });
    let text = "";
    stream.on("data", (c: Buffer) => {
      text += c.toString();
    });
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
  }).finally(() => session.close());
}

function getH1(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http1Request({ host: "127.0.0.1", port, path: "/" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });
}

describe("one plaintext port", () => {
  it("serves HTTP/1.1 and h2c side by side", async () => {
    const { port } = await start();
    expect(await getH1(port)).toBe("HTTP/1.1");
    expect(await getH2(port)).toBe("HTTP/2.0");
  });

  it("hands over an HTTP/2 connection whose preface arrives in pieces, with the bytes after it", async () => {
    const { port } = await start();
    // The client's whole first flight (preface, SETTINGS, HEADERS) is written a few bytes at a
    // time: the sniffer must put back everything it read, not only the preface.
    let pieces = 0;
    const body = await getH2(port, () => {
      const socket = connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      // A JavaScript stream, so that http2 writes through it (a net.Socket it writes natively).
      const wire = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          if (pieces > 0) {
            socket.write(chunk, callback);
            return;
          }
          for (const [from, to, delay] of [
            [0, 3, 0],
            [3, 20, 20],
            [20, chunk.length, 40],
          ] as const) {
            pieces++;
            setTimeout(() => socket.write(chunk.subarray(from, to)), delay);
          }
          setTimeout(callback, 40);
        },
      });
      socket.on("data", (c: Buffer) => wire.push(c));
      socket.on("end", () => wire.push(null));
      return wire;
    });
    expect(pieces).toBe(3);
    expect(body).toBe("HTTP/2.0");
  });

  it("tells a request from a preface even when the first bytes arrive one by one", async () => {
    const { port } = await start();
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write("P");
    await new Promise((r) => setTimeout(r, 30));
    socket.write("OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    const answer = await new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (c: Buffer) => {
        text += c.toString();
      });
      socket.on("end", () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain("HTTP/1.1");
  });

  it("survives a client that resets the connection before sending anything", async () => {
    const { port } = await start();
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(await getH1(port)).toBe("HTTP/1.1");
  });

  it("drains at once when only idle keep-alive connections are left", async () => {
    const t = await start();
    await getH1(t.port);
    const started = Date.now();
    await t.drain();
    transport = undefined;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
