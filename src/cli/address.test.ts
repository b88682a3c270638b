import { describe, expect, it } from "vitest";
import { dialAddress, formatHostPort, parseHostPort } from "./address.js";

describe("listen addresses", () => {
  it("parses host:port and [ipv6]:port as [metrics_access] listen does", () => {
    expect(parseHostPort("127.0.0.1:50051")).toEqual({ host: "127.0.0.1", port: 50051 });
    expect(parseHostPort("metrics.example:443")).toEqual({ host: "metrics.example", port: 443 });
    expect(parseHostPort("[::1]:50051")).toEqual({ host: "::1", port: 50051 });
    expect(parseHostPort("::1:50051")).toBeUndefined();
    expect(parseHostPort("[x]:1")).toBeUndefined();
    expect(parseHostPort("host:65536")).toBeUndefined();
    expect(parseHostPort("host")).toBeUndefined();
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
    expect(formatHostPort({ host: "::1", port: 50051 })).toBe("[::1]:50051");
    expect(formatHostPort({ host: "127.0.0.1", port: 50051 })).toBe("127.0.0.1:50051");
  });
});
