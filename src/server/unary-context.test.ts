import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { PEER } from "./peer.js";
import { UnaryCallContext } from "./unary-context.js";

const method = Health.method.check;

function context(deadlineAt: number | undefined, socket?: Socket) {
  const controller = new AbortController();
  return new UnaryCallContext({
    method,
    url: "/grpc.health.v1.Health/Check",
    signal: controller.signal,
    deadlineAt,
    headers: {
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      "x-auth-token": "t0ken",
      "x-multi": ["a", "b"],
    },
    socket,
  });
}

describe("the fast path's handler context", () => {
  it("names the method and service, and counts down to the deadline", () => {
    const ctx = context(Date.now() + 60_000);
    expect(ctx.service.typeName).toBe("grpc.health.v1.Health");
    expect(ctx.method.name).toBe("Check");
    expect(ctx.protocolName).toBe("grpc");
    const left = ctx.timeoutMs();
    expect(left).toBeGreaterThan(50_000);
    expect(left).toBeLessThanOrEqual(60_000);
    expect(context(Date.now() - 5).timeoutMs()).toBeLessThan(0);
    expect(context(undefined).timeoutMs()).toBeUndefined();
  });

  it("gives the request headers without pseudo-headers, repeated ones joined", () => {
    const header = context(undefined).requestHeader;
    expect([...header.keys()]).toEqual(["content-type", "x-auth-token", "x-multi"]);
    expect(header.get("x-auth-token")).toBe("t0ken");
    expect(header.get("x-multi")).toBe("a, b");
  });

  it("carries the connection's peer in its values, and the values a handler sets", () => {
    const socket = new Socket();
    const ctx = context(undefined, socket);
    expect(ctx.values.get(PEER)).toEqual({ address: undefined, tls: false, certificate: undefined });
    expect(context(undefined).values.get(PEER)).toBeUndefined();
    socket.destroy();
  });

  it("arms no timer of its own, whatever the deadline", () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const ctx = context(Date.now() + 300_000);
    void ctx.signal;
    expect(timers()).toBe(before);
  });
});
