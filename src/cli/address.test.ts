import { describe, expect, it } from "vitest";
import { formatListenAddress, parseListenAddress } from "../config/listen-address.js";
import { dialAddress } from "./address.js";

describe("listen addresses", () => {
  it("parses host:port, [ipv6]:port and unix sockets as [metrics_access] listen and probe --address do", () => {
    expect(parseListenAddress("127.0.0.1:50051")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 50051 });
    expect(parseListenAddress("metrics.example:443")).toEqual({
      kind: "tcp",
      host: "metrics.example",
      port: 443,
    });
    expect(parseListenAddress("[::1]:50051")).toEqual({ kind: "tcp", host: "::1", port: 50051 });
    expect(parseListenAddress("unix:///run/m/grpc.sock")).toEqual({ kind: "unix", path: "/run/m/grpc.sock" });
    for (const bad of ["::1:50051", "[x]:1", "host:65536", "host", "unix:relative.sock", "unix://host/p"]) {
      expect(parseListenAddress(bad), bad).toBeUndefined();
    }
  });

  it("dials the loopback of the same family for a wildcard listen address, and a unix socket as it is", () => {
    const tcp = (host: string, port: number) => ({ kind: "tcp", host, port }) as const;
    expect(dialAddress(tcp("0.0.0.0", 50051))).toEqual(tcp("127.0.0.1", 50051));
    expect(dialAddress(tcp("::", 50051))).toEqual(tcp("::1", 50051));
    expect(dialAddress(tcp("10.0.0.5", 7))).toEqual(tcp("10.0.0.5", 7));
    const unix = { kind: "unix", path: "/run/metrics-access/grpc.sock" } as const;
    expect(dialAddress(unix)).toEqual(unix);
  });

  it("brackets IPv6 when writing an address", () => {
    expect(formatListenAddress({ kind: "tcp", host: "::1", port: 50051 })).toBe("[::1]:50051");
    expect(formatListenAddress({ kind: "tcp", host: "127.0.0.1", port: 50051 })).toBe("127.0.0.1:50051");
    expect(formatListenAddress({ kind: "unix", path: "/run/m.sock" })).toBe("unix:/run/m.sock");
  });
});
