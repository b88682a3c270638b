import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import type { AetosSourceConfig, PrometheusSourceConfig } from "../config/types.js";
import { createLogger } from "../log.js";
import { BackendCheck } from "./backend-check.js";

// What Prometheus 2.42 (Debian's) and VictoriaMetrics 1.79.5 (Debian's) answer, as captured.
const PROMETHEUS_BUILDINFO =
  '{"status":"success","data":{"version":"2.42.0+ds","revision":"2.42.0+ds-5+deb12u1","branch":"debian/sid","buildUser":"team+pkg-go@tracker.debian.org","buildDate":"20260604-00:58:54","goVersion":"go1.19.8"}}';
const VICTORIA_1_79_BUILDINFO = '{"status":"success","data":{}}';

interface Fake {
  readonly server: Server;
  readonly port: number;
  readonly requests: { url: string | undefined; headers: IncomingHttpHeaders }[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function fake(
  answer: () => { status: number; headers?: Record<string, string>; body: string },
): Promise<Fake> {
  const requests: Fake["requests"] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url, headers: req.headers });
    const { status, headers, body } = answer();
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return { server, port: (server.address() as AddressInfo).port, requests };
}

function source(port: number, extra: Partial<PrometheusSourceConfig> = {}): PrometheusSourceConfig {
  return {
    kind: "prometheus",
    origin: `http://127.0.0.1:${port}`,
    rootPath: "",
    tls: undefined,
    basicAuth: undefined,
    timeoutMs: 5_000,
    labels: { fqdn: "fqdn", instanceUuid: "resource" },
    ...extra,
  } as PrometheusSourceConfig;
}

function logs(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  return {
    logger: createLogger("debug", sink),
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("BackendCheck", () => {
  it("warns once, naming docs/backends.md, when VictoriaMetrics answers", async () => {
    const vm = await fake(() => ({
      status: 200,
      headers: { "x-server-hostname": "vm" },
      body: VICTORIA_1_79_BUILDINFO,
    }));
    const { logger, lines } = logs();
    const check = new BackendCheck(source(vm.port), logger);
    await check.check();
    await check.check();
    expect(vm.requests.map((r) => r.url)).toEqual(["/api/v1/status/buildinfo"]);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: "warn",
        backend: "victoriametrics",
        origin: `http://127.0.0.1:${vm.port}`,
        msg: "the upstream answers as VictoriaMetrics, not as Prometheus: some metrics can differ from the numbers Watcher computes on Prometheus (docs/backends.md)",
      }),
    ]);
  });

  it("says Prometheus and its version at info, with the section's root path and basic auth", async () => {
    const prometheus = await fake(() => ({ status: 200, body: PROMETHEUS_BUILDINFO }));
    const { logger, lines } = logs();
    const config = source(prometheus.port, {
      rootPath: "/prometheus",
      basicAuth: { username: "watcher", password: "s3cret" },
    });
    await new BackendCheck(config, logger).check();
    expect(prometheus.requests[0]?.url).toBe("/prometheus/api/v1/status/buildinfo");
    expect(prometheus.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("watcher:s3cret").toString("base64")}`,
    );
    expect(lines()).toEqual([
      expect.objectContaining({
        level: "info",
        backend: "prometheus",
        version: "2.42.0+ds",
        msg: "upstream identified as Prometheus",
      }),
    ]);
  });

  it("warns about a server that does not identify itself", async () => {
    const other = await fake(() => ({
      status: 200,
      body: '{"status":"success","data":{"version":"9","x":1}}',
    }));
    const { logger, lines } = logs();
    await new BackendCheck(source(other.port), logger).check();
    expect(lines()[0]).toMatchObject({
      level: "warn",
      backend: "unrecognised",
      msg: expect.stringContaining("answers as an unrecognised server, not as Prometheus"),
    });
  });

  it("tries again after a failed check, and never asks through Aetos", async () => {
    let status = 503;
    const flaky = await fake(() => ({ status, body: status === 200 ? PROMETHEUS_BUILDINFO : "unavailable" }));
    const { logger, lines } = logs();
    const check = new BackendCheck(source(flaky.port), logger);
    await check.check();
    expect(lines()).toEqual([]);
    status = 200;
    await check.check();
    expect(flaky.requests).toHaveLength(2);
    expect(lines()).toHaveLength(1);

    const aetos = new BackendCheck({ kind: "aetos" } as AetosSourceConfig, logger);
    await aetos.check();
    expect(lines()).toHaveLength(1);
  });

  it("abandons a check in flight when closed, and does not start another", async () => {
    const silent = createServer(() => {});
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    servers.push(silent);
    const { logger, lines } = logs();
    const check = new BackendCheck(source((silent.address() as AddressInfo).port), logger);
    const running = check.check();
    await new Promise((resolve) => setTimeout(resolve, 50));
    check.close();
    await running;
    await check.check();
    expect(lines()).toEqual([]);
    silent.closeAllConnections();
  });
});
