import { describe, expect, it } from "vitest";
import { MetricsAccessError } from "../errors.js";
import { transportError, upstreamDetail } from "./upstream-errors.js";

/** Upstream bodies as the real servers send them; each carries a marker the caller must never see. */
const MARKER = "UPSTREAM-SECRET-TEXT";
const bodies = {
  prometheus: {
    status: "error",
    errorType: "bad_data",
    error: `invalid parameter "query": 1:1: parse error: ${MARKER}`,
  },
  aetosString: { error_message: `[400] ${MARKER}` },
  aetosFault: {
    error_message: {
      faultcode: "Client",
      faultstring: `RBAC Authorization Failed ${MARKER}`,
      debuginfo: null,
    },
  },
  keystone: {
    error: {
      code: 401,
      title: "Unauthorized",
      message: `The request you have made requires authentication. ${MARKER}`,
    },
  },
};

function causeText(err: MetricsAccessError): string {
  expect(err.cause).toBeInstanceOf(Error);
  return (err.cause as Error).message;
}

/** The cause (for the log) ends with the upstream's own error text, as parsed from the body. */
function expectCauseDetail(err: MetricsAccessError, detail: string): void {
  const cause = causeText(err);
  expect(cause.slice(-(detail.length + 2))).toBe(`: ${detail}`);
}

describe("upstreamDetail status mapping", () => {
  it.each([
    ["Prometheus", 401, "unavailable", "UPSTREAM_UNAUTHORIZED"],
    ["Aetos", 401, "unavailable", "UPSTREAM_UNAUTHORIZED"],
    ["Prometheus", 403, "unavailable", "UPSTREAM_FORBIDDEN"],
    ["Aetos", 403, "unavailable", "UPSTREAM_FORBIDDEN"],
    ["Prometheus", 400, "internal", "UPSTREAM_REJECTED_QUERY"],
    ["Aetos", 400, "internal", "UPSTREAM_REJECTED_QUERY"],
    ["Prometheus", 422, "internal", "UPSTREAM_REJECTED_QUERY"],
    ["Aetos", 422, "internal", "UPSTREAM_REJECTED_QUERY"],
    ["Prometheus", 404, "unavailable", "UPSTREAM_NOT_FOUND"],
    ["Aetos", 404, "unavailable", "UPSTREAM_NOT_FOUND"],
    ["Prometheus", 500, "unavailable", "UPSTREAM_FAILED"],
    ["Prometheus", 503, "unavailable", "UPSTREAM_FAILED"],
    ["Aetos", 501, "unavailable", "UPSTREAM_FAILED"],
    ["Aetos", 502, "unavailable", "UPSTREAM_FAILED"],
    ["Aetos", 503, "unavailable", "UPSTREAM_FAILED"],
    ["Prometheus", 429, "unavailable", "UPSTREAM_FAILED"],
    ["Prometheus", 200, "unavailable", "UPSTREAM_MALFORMED"],
  ] as const)("%s HTTP %i → %s", (upstream, status, code, reason) => {
    const err = upstreamDetail(upstream, "query", status, undefined, "");
    expect(err).toBeInstanceOf(MetricsAccessError);
    expect(err.code).toBe(code);
    expect(err.reason).toBe(reason);
  });

  it("tells a Prometheus 401 to check the basic-auth options", () => {
    const err = upstreamDetail("Prometheus", "query", 401, undefined, "Unauthorized");
    expect(err.message).toContain("[prometheus_client] username and password");
    expect(err.message).toContain("HTTP 401");
  });

  it("says an Aetos 401 means the Keystone token was not accepted", () => {
    expect(upstreamDetail("Aetos", "query", 401, bodies.keystone, "").message).toMatch(/Keystone token/);
  });

  it("gives the role hint for an Aetos 403", () => {
    const err = upstreamDetail("Aetos", "targets", 403, bodies.aetosFault, "");
    expect(err.message).toMatch(/admin or service role/);
    expect(err.message).toContain("targets");
  });

  it("does not give the Keystone role hint for a Prometheus 403", () => {
    expect(upstreamDetail("Prometheus", "query", 403, undefined, "").message).not.toMatch(/role|Keystone/);
  });

  it("points a Prometheus 404 at root_path and an Aetos 404 at the catalog", () => {
    expect(upstreamDetail("Prometheus", "query", 404, undefined, "").message).toContain(
      "[prometheus_client] root_path",
    );
    expect(upstreamDetail("Aetos", "query", 404, undefined, "").message).toContain("catalog");
  });

  it("reads Prometheus's query timeout, direct or passed on by Aetos, as DEADLINE_EXCEEDED", () => {
    const direct = upstreamDetail(
      "Prometheus",
      "query",
      503,
      { status: "error", errorType: "timeout", error: "query timed out in expression evaluation" },
      "",
    );
    const throughAetos = upstreamDetail(
      "Aetos",
      "query",
      503,
      {
        error_message: {
          faultcode: "Server",
          faultstring: "[503] query timed out in expression evaluation",
          debuginfo: null,
        },
      },
      "",
    );
    for (const err of [direct, throughAetos]) {
      expect(err).toMatchObject({ code: "deadline_exceeded", reason: "UPSTREAM_TIMEOUT" });
    }
    expect(upstreamDetail("Prometheus", "query", 503, undefined, "overloaded").reason).toBe(
      "UPSTREAM_FAILED",
    );
  });

  it("names the upstream, the endpoint and the status", () => {
    const err = upstreamDetail("Aetos", "targets", 503, undefined, "");
    expect(err.message).toContain("Aetos");
    expect(err.message).toContain("targets");
    expect(err.message).toContain("503");
  });
});

describe("upstreamDetail keeps the upstream's words for the log only", () => {
  it("reads Prometheus's error envelope into the cause", () => {
    const err = upstreamDetail(
      "Prometheus",
      "query",
      400,
      bodies.prometheus,
      JSON.stringify(bodies.prometheus),
    );
    expectCauseDetail(err, `bad_data: invalid parameter "query": 1:1: parse error: ${MARKER}`);
    expect(causeText(err)).toContain("HTTP 400");
  });

  it('reads Aetos\'s {"error_message": "…"} into the cause', () => {
    const err = upstreamDetail(
      "Aetos",
      "labels",
      400,
      bodies.aetosString,
      JSON.stringify(bodies.aetosString),
    );
    expectCauseDetail(err, `[400] ${MARKER}`);
  });

  it('reads Aetos\'s {"error_message": {faultcode, faultstring}} into the cause', () => {
    const err = upstreamDetail("Aetos", "targets", 403, bodies.aetosFault, JSON.stringify(bodies.aetosFault));
    expectCauseDetail(err, `Client: RBAC Authorization Failed ${MARKER}`);
  });

  it('reads keystonemiddleware\'s {"error": {"message"}} into the cause', () => {
    const err = upstreamDetail("Aetos", "query", 401, bodies.keystone, JSON.stringify(bodies.keystone));
    expectCauseDetail(err, `The request you have made requires authentication. ${MARKER}`);
  });

  it("falls back to the start of a body that is not JSON", () => {
    const text = `<html>${MARKER}${"x".repeat(1000)}</html>`;
    const err = upstreamDetail("Prometheus", "query", 502, undefined, text);
    expect(causeText(err)).toContain(`<html>${MARKER}`);
    expect(causeText(err).length).toBeLessThan(500);
  });

  it.each([401, 403, 400, 404, 422, 500, 502, 503, 200])(
    "never puts body text in the message (HTTP %i)",
    (status) => {
      for (const upstream of ["Prometheus", "Aetos"] as const) {
        for (const body of Object.values(bodies)) {
          const err = upstreamDetail(upstream, "query", status, body, JSON.stringify(body));
          expect(err.message).not.toContain(MARKER);
        }
        const raw = upstreamDetail(upstream, "query", status, undefined, `plain ${MARKER}`);
        expect(raw.message).not.toContain(MARKER);
      }
    },
  );
});

describe("transportError", () => {
  function withCode(code: string, message = `connect ${code} 10.0.0.5:9090`): Error {
    return Object.assign(new Error(message), { code });
  }

  it("reports a refused connection as unavailable with the error code", () => {
    const cause = withCode("ECONNREFUSED");
    const err = transportError("Prometheus", "query", cause, 30_000);
    expect(err.code).toBe("unavailable");
    expect(err.reason).toBe("UPSTREAM_UNREACHABLE");
    expect(err.message).toContain("Prometheus");
    expect(err.message).toContain("query");
    expect(err.message).toContain("ECONNREFUSED");
    expect(err.cause).toBe(cause);
  });

  it("reports a connect timeout without claiming the request timeout (it is capped at 10 s)", () => {
    const err = transportError("Aetos", "targets", withCode("CONNECT_TIMEOUT"), 30_000);
    expect(err.code).toBe("unavailable");
    expect(err.message).toBe("Aetos did not accept a connection for targets in time");
  });

  it.each(["HEADERS_TIMEOUT", "BODY_TIMEOUT"])(
    "reports %s as no answer within the timeout, in seconds",
    (code) => {
      const err = transportError("Aetos", "targets", withCode(code), 30_000);
      expect(err.code).toBe("unavailable");
      expect(err.message).toContain("did not answer");
      expect(err.message).toContain("30 s");
    },
  );

  it("names Keystone when Keystone cannot be reached", () => {
    expect(transportError("Keystone", "auth/tokens", withCode("ENOTFOUND"), 1000).message).toMatch(
      /^Keystone/,
    );
  });

  it("copes with an error without a code, and with a non-error", () => {
    expect(transportError("Prometheus", "query", new Error("socket hang up"), 1000).message).toContain(
      "UNKNOWN",
    );
    expect(transportError("Prometheus", "query", "boom", 1000).code).toBe("unavailable");
  });

  it("does not put the low-level message (addresses, paths) in the caller's message", () => {
    const err = transportError(
      "Prometheus",
      "query",
      withCode("ECONNREFUSED", "connect ECONNREFUSED 10.9.8.7:9090"),
      1000,
    );
    expect(err.message).not.toContain("10.9.8.7");
  });

  it("treats a Go TLS port's 400 to plain http as a scheme problem, not a rejected query", () => {
    const err = upstreamDetail(
      "Prometheus",
      "targets",
      400,
      undefined,
      "Client sent an HTTP request to an HTTPS server.\n",
    );
    expect(err.code).toBe("unavailable");
    expect(err.reason).toBe("UPSTREAM_EXPECTS_TLS");
    expect(err.message).toContain("[prometheus_client] use_tls or cafile");
  });
});
