import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { invalidArgument, MetricsAccessError } from "../errors.js";
import { toConnectError } from "./error-status.js";

const live = new AbortController().signal;

describe("toConnectError", () => {
  it("keeps a typed error's code and message and names its reason", () => {
    const err = toConnectError(
      new MetricsAccessError("not_found", 'host "x" is unknown', { reason: "HOST_NOT_FOUND" }),
      live,
    );
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe('host "x" is unknown');
    expect(err.metadata.get("x-error-reason")).toBe("HOST_NOT_FOUND");
    expect(err.details).toHaveLength(1);
  });

  it("adds a field violation for a bad field", () => {
    const err = toConnectError(invalidArgument("period", "must be positive"), live);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.details).toHaveLength(2);
  });

  it("hides anything unexpected behind a bare INTERNAL", () => {
    const err = toConnectError(new Error("connect ECONNREFUSED 10.1.2.3:9090 user:secret"), live);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error");
  });

  it("keeps the call's own deadline", () => {
    const controller = new AbortController();
    const deadline = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    controller.abort(deadline);
    expect(toConnectError(new Error("aborted"), controller.signal)).toBe(deadline);
  });

  it("reports a caller that went away as CANCELLED, not INTERNAL", () => {
    const controller = new AbortController();
    controller.abort();
    const err = toConnectError(controller.signal.reason, controller.signal);
    expect(err.code).toBe(Code.Canceled);
  });
});
