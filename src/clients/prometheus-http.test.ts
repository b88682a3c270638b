import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isMetricsAccessError } from "../errors.js";
import { PrometheusHttpClient } from "./prometheus-http.js";

const TENANT = "tenant-3e9a";
const TOKEN = "Bearer tok-77c1d0";
const servers: Server[] = [];
const clients: PrometheusHttpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A stand-in that records each request's headers and answers with `answer`. */
async function upstream(answer: { status: number; body: string }): Promise<{
  client: PrometheusHttpClient;
  seen: IncomingHttpHeaders[];
}> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () =>
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body),
    );
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = new PrometheusHttpClient({
    upstream: "Prometheus",
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rootPath: "/select/0/prometheus",
    tls: undefined,
    timeoutMs: 5_000,
    postQueriesAbove: 100,
    headers: { "x-scope-orgid": TENANT, authorization: TOKEN },
  });
  clients.push(client);
  return { client, seen };
}

describe("PrometheusHttpClient: configured request headers", () => {
  it("sends them on GET and POST requests, beside its own", async () => {
    const vector = '{"status":"success","data":{"resultType":"vector","result":[]}}';
    const { client, seen } = await upstream({ status: 200, body: vector });
    await client.query("up");
    await client.query(`up{job="${"x".repeat(200)}"}`);
    expect(seen).toHaveLength(2);
    for (const headers of seen) {
      expect(headers).toMatchObject({
        "x-scope-orgid": TENANT,
        authorization: TOKEN,
        accept: "application/json",
        "user-agent": "metrics-access",
      });
    }
    expect(seen[1]?.["content-type"]).toBe("application/x-www-form-urlencoded");
  });

  it("blanks their values out of the upstream's words in an error", async () => {
    const body = JSON.stringify({
      status: "error",
      errorType: "unauthorized",
      error: `tenant ${TENANT} refused for ${TOKEN}`,
    });
    const { client } = await upstream({ status: 401, body });
    const err = await client.activeTargets().catch((e: unknown) => e);
    expect(isMetricsAccessError(err)).toBe(true);
    const shown = `${String(err)} ${String((err as Error).cause)}`;
    expect(shown).toContain("tenant [redacted] refused for [redacted]");
    expect(shown).not.toContain(TENANT);
    expect(shown).not.toContain("tok-77c1d0");
  });
});
