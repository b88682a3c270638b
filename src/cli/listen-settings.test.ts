import { describe, expect, it } from "vitest";
import { ListenSettingsError, readListenSettings } from "./listen-settings.js";

const FILES: Readonly<Record<string, string>> = {
  "/etc/watcher/watcher.conf":
    "[metrics_access]\nlisten = 0.0.0.0:6000\ntls_certfile = /c.pem\ntls_keyfile = /k.pem\n",
  "/etc/other.conf": "[metrics_access]\nlisten = [::1]:7000\n",
  "/etc/unix.conf": "[metrics_access]\nlisten = unix:/run/metrics-access/grpc.sock\n",
  "/etc/bad.conf": "this is not ini\n",
};

function readFile(path: string): Buffer {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
  return Buffer.from(text);
}

describe("readListenSettings", () => {
  it("is the default listen address, plaintext, with no configuration at all", () => {
    expect(readListenSettings({ configFiles: [], env: {}, readFile })).toEqual({
      listen: { kind: "tcp", host: "127.0.0.1", port: 50051 },
      tls: false,
    });
  });

  it("reads a unix socket, in either spelling", () => {
    const listen = { kind: "unix", path: "/run/metrics-access/grpc.sock" };
    expect(readListenSettings({ configFiles: ["/etc/unix.conf"], env: {}, readFile }).listen).toEqual(listen);
    const env = { METRICS_ACCESS__METRICS_ACCESS__LISTEN: "unix:///run/metrics-access/grpc.sock" };
    expect(readListenSettings({ configFiles: [], env, readFile }).listen).toEqual(listen);
  });

  it("reads listen and the TLS files from the file METRICS_ACCESS_CONFIG_FILE names", () => {
    const env = { METRICS_ACCESS_CONFIG_FILE: "/etc/watcher/watcher.conf" };
    expect(readListenSettings({ configFiles: [], env, readFile })).toEqual({
      listen: { kind: "tcp", host: "0.0.0.0", port: 6000 },
      tls: true,
    });
  });

  it("lets --config-file win over METRICS_ACCESS_CONFIG_FILE, and the environment over files", () => {
    const env = {
      METRICS_ACCESS_CONFIG_FILE: "/etc/watcher/watcher.conf",
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.2:8000",
    };
    expect(readListenSettings({ configFiles: ["/etc/other.conf"], env, readFile })).toEqual({
      listen: { kind: "tcp", host: "127.0.0.2", port: 8000 },
      tls: false,
    });
  });

  it("ignores the rest of the configuration, even invalid options (check-config judges those)", () => {
    const env = { METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: "not a port", METRICS_ACCESS__NO__SUCH: "x" };
    expect(readListenSettings({ configFiles: [], env, readFile }).listen).toMatchObject({ port: 50051 });
  });

  it("fails, naming the file or the option, when it cannot tell where the server listens", () => {
    const read =
      (configFiles: string[], env: NodeJS.ProcessEnv = {}) =>
      () =>
        readListenSettings({ configFiles, env, readFile });
    expect(read(["/nowhere.conf"])).toThrow(new ListenSettingsError("cannot read /nowhere.conf (ENOENT)"));
    expect(read(["/etc/bad.conf"])).toThrow(/bad\.conf/);
    expect(read([], { METRICS_ACCESS__METRICS_ACCESS__LISTEN: "50051" })).toThrow(
      '[metrics_access] listen "50051" is not host:port or unix:/absolute/path',
    );
  });
});
