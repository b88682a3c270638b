import { afterEach, describe, expect, it } from "vitest";
import { type AdminServer, listenAdmin } from "./admin.js";
import { SelfMetrics } from "./self-metrics.js";

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(ready: () => boolean): Promise<string> {
  const metrics = new SelfMetrics({ processMetrics: false });
  metrics.start("pkg.Svc/Do", "unary")("OK");
  server = await listenAdmin({ host: "127.0.0.1", port: 0, ready, metrics: () => metrics.scrape() });
  return `http://127.0.0.1:${server.port}`;
}

describe("admin server", () => {
  it("answers healthz, readyz as the state says, and metrics; 404 elsewhere, 405 for POST", async () => {
    let ready = false;
    const url = await start(() => ready);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(await metrics.text()).toContain(
      'grpc_server_handled_total{grpc_service="pkg.Svc",grpc_method="Do",grpc_type="unary",grpc_code="OK"} 1',
    );
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("fails to start on an address in use, naming admin_listen", async () => {
    const url = await start(() => true);
    const port = Number(new URL(url).port);
    await expect(
      listenAdmin({
        host: "127.0.0.1",
        port,
        ready: () => true,
        metrics: async () => ({ contentType: "", body: "" }),
      }),
    ).rejects.toThrow(/admin_listen 127\.0\.0\.1:\d+: cannot listen \(EADDRINUSE\)/);
  });
});
