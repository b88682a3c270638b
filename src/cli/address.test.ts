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

  it("dials the loopback of the same family for a wildcard listen address", () => {
    expect(dialAddress({ host: "0.0.0.0", port: 50051 })).toEqual({ host: "127.0.0.1", port: 50051 });
    expect(dialAddress({ host: "::", port: 50051 })).toEqual({ host: "::1", port: 50051 });
    expect(dialAddress({ host: "10.0.0.5", port: 7 })).toEqual({ host: "10.0.0.5", port: 7 });
  });

  it("brackets IPv6 when writing an address", () => {
    expect(formatHostPort({ host: "::1", port: 50051 })).toBe("[::1]:50051");
    expect(formatHostPort({ host: "127.0.0.1", port: 50051 })).toBe("127.0.0.1:50051");
  });
});
