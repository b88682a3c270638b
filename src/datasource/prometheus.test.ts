import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { PrometheusDatasource, queryTimeoutSeconds } from "./prometheus.js";

const NOW = 1_700_000_000_000;

describe("queryTimeoutSeconds", () => {
  it("sends nothing without a deadline", () => {
    expect(queryTimeoutSeconds(undefined, NOW)).toBeUndefined();
  });

  it("gives Prometheus the time left less 200 ms for the answer's way back, in whole milliseconds", () => {
    expect(queryTimeoutSeconds(NOW + 5000, NOW)).toBe(4.8);
    expect(queryTimeoutSeconds(NOW + 1234.9, NOW)).toBe(1.034);
    expect(queryTimeoutSeconds(NOW + 30_000, NOW + 0.5)).toBe(29.799);
  });

  it("never goes below 100 ms, however close or past the deadline is", () => {
    expect(queryTimeoutSeconds(NOW + 300, NOW)).toBe(0.1);
    expect(queryTimeoutSeconds(NOW + 250, NOW)).toBe(0.1);
    expect(queryTimeoutSeconds(NOW, NOW)).toBe(0.1);
    expect(queryTimeoutSeconds(NOW - 10_000, NOW)).toBe(0.1);
  });
});

interface Seen {
  readonly method: string;
  readonly params: URLSearchParams;
}

const servers: Server[] = [];
const datasources: PrometheusDatasource[] = [];

afterEach(async () => {
  await Promise.all(datasources.splice(0).map((d) => d.close()));
  for (const server of servers.splice(0)) server.close().closeAllConnections();
});

/** A datasource in front of a stand-in that records each query's parameters and answers an empty vector. */
async function recorded(): Promise<{ datasource: PrometheusDatasource; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      seen.push({
        method: req.method ?? "",
        params: req.method === "POST" ? new URLSearchParams(body) : url.searchParams,
      });
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }));
    });
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const datasource = new PrometheusDatasource({
    kind: "prometheus",
    origin: `http://127.0.0.1:${port}`,
    rootPath: "",
    tls: undefined,
    basicAuth: undefined,
    timeoutMs: 5000,
    labels: { fqdn: "fqdn", instanceUuid: "resource" },
  });
  datasources.push(datasource);
  return { datasource, seen };
}

/** A timeout parameter as Prometheus reads it: seconds, as a decimal number. */
function timeoutOf(seen: Seen | undefined): number | undefined {
  const value = seen?.params.get("timeout");
  return value === null || value === undefined ? undefined : Number(value);
}

describe("PrometheusDatasource's timeout parameter", () => {
  it("sends the caller's deadline as timeout with a GET query, beside query and time", async () => {
    const { datasource, seen } = await recorded();
    await datasource.instantQuery("up", { deadline: Date.now() + 3000, time: 1_700_000_000 });
    expect(seen[0]?.method).toBe("GET");
    expect(seen[0]?.params.get("query")).toBe("up");
    expect(seen[0]?.params.get("time")).toBe("1700000000");
    expect(seen[0]?.params.get("timeout")).toMatch(/^\d+(\.\d{1,3})?$/);
    expect(timeoutOf(seen[0])).toBeGreaterThan(2.5);
    expect(timeoutOf(seen[0])).toBeLessThanOrEqual(2.8);
  });

  it("sends it in the form body of a long query it POSTs", async () => {
    const { datasource, seen } = await recorded();
    const long = `up{fqdn=~"${"a|".repeat(1500)}b"}`;
    await datasource.instantQuery(long, { deadline: Date.now() + 10_000 });
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.params.get("query")).toBe(long);
    expect(timeoutOf(seen[0])).toBeGreaterThan(9.5);
    expect(timeoutOf(seen[0])).toBeLessThanOrEqual(9.8);
  });

  it("sends no timeout without a deadline", async () => {
    const { datasource, seen } = await recorded();
    await datasource.instantQuery("up", {});
    expect(seen[0]?.params.has("timeout")).toBe(false);
    expect([...(seen[0]?.params.keys() ?? [])]).toEqual(["query"]);
  });
});
