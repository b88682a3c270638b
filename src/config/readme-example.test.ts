import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";

describe("the README's configuration example", () => {
  it("starts the service as written", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const example = /```ini\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const config = loadConfig({
      argv: ["--config-file", "/etc/watcher/watcher.conf"],
      env: {},
      readFile: () => Buffer.from(example ?? ""),
    });
    expect(config.datasource).toMatchObject({
      kind: "prometheus",
      origin: "http://prometheus.example.net:9090",
    });
    expect(config.server).toMatchObject({
      listen: { kind: "tcp", host: "127.0.0.1", port: 50051 },
      logLevel: "info",
    });
  });
});
