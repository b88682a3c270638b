import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../../test/support/tls-material.js";
import { ConfigError, loadConfig } from "./load.js";
import type { AetosSourceConfig, Config, PrometheusSourceConfig } from "./types.js";

const CONF = "/etc/watcher/watcher.conf";
const SECRET = "S3cr3t-hunter2-Pa55";

interface Input {
  files?: Record<string, string>;
  argv?: string[];
  env?: Record<string, string>;
}

/** Real certificates and keys (openssl), since the loader checks them as TLS will. */
let pki: TestPki;
let pem: { cert: string; key: string; otherKey: string };
beforeAll(async () => {
  pki = await createTestPki({ prefix: "metrics-access-load-test-" });
  const read = (file: string) => readFileSync(file, "utf8");
  pem = { cert: read(pki.clientCertFile), key: read(pki.clientKeyFile), otherKey: read(pki.serverKeyFile) };
});
afterAll(async () => {
  await pki?.remove();
});

function notFound(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
}

function load({ files = {}, argv = ["--config-file", CONF], env = {} }: Input): Config {
  return loadConfig({
    argv,
    env,
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw notFound(path);
      return Buffer.from(text, "utf8");
    },
  });
}

/** Loads a single watcher.conf. */
function loadConf(text: string, env: Record<string, string> = {}): Config {
  return load({ files: { [CONF]: text }, env });
}

function configError(input: Input): ConfigError {
  try {
    load(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

function problemsWith(text: string, env: Record<string, string> = {}): readonly string[] {
  return configError({ files: { [CONF]: text }, env }).problems;
}

function prometheus(config: Config): PrometheusSourceConfig {
  if (config.datasource.kind !== "prometheus") throw new Error("expected the prometheus datasource");
  return config.datasource;
}

function aetos(config: Config): AetosSourceConfig {
  if (config.datasource.kind !== "aetos") throw new Error("expected the aetos datasource");
  return config.datasource;
}

const PROM = "[prometheus_client]\nhost = prom.example.com\n";

describe("loadConfig with direct Prometheus", () => {
  it("uses the defaults for everything but the host", () => {
    const config = loadConf(PROM);
    expect(config.server).toEqual({
      listen: { kind: "tcp", host: "127.0.0.1", port: 50051 },
      callerAuth: { kind: "none" },
      unauthenticatedNetwork: false,
      tls: undefined,
      tlsReloadIntervalMs: 10_000,
      logLevel: "info",
      shutdownGraceMs: 10_000,
      targetRefreshIntervalMs: 10_000,
      seriesRefreshIntervalMs: 10_000,
      maxConcurrentUpstreamQueries: 64,
      upstreamQueueTimeoutMs: 5000,
      queryCacheTtlMs: 0,
      admin: { host: "127.0.0.1", port: 9464 },
      readinessIntervalMs: 5000,
    });
    expect(config.datasource).toEqual({
      kind: "prometheus",
      origin: "http://prom.example.com:9090",
      rootPath: "",
      tls: undefined,
      basicAuth: undefined,
      timeoutMs: 30_000,
      labels: { fqdn: "fqdn", instanceUuid: "resource" },
    });
  });

  it("reads a real watcher.conf, ignoring the sections and options it does not use", () => {
    const config = loadConf(`
[DEFAULT]
debug = True
transport_url = rabbit://stackrabbit:secret@10.0.0.5:5672/

[database]
connection = mysql+pymysql://root:secret@127.0.0.1/watcher?charset=utf8

[keystone_authtoken]
memcached_servers = localhost:11211
auth_type = password

[watcher_datasources]
datasources = prometheus
query_max_retries = 10

[prometheus_client]
host = 192.0.2.10
port = 9091
fqdn_label = custom_fqdn_label
instance_uuid_label = custom_uuid_label
username = admin
password = ${SECRET}
`);
    expect(prometheus(config)).toMatchObject({
      origin: "http://192.0.2.10:9091",
      basicAuth: { username: "admin", password: SECRET },
      labels: { fqdn: "custom_fqdn_label", instanceUuid: "custom_uuid_label" },
    });
  });

  it("reads the service's own section", () => {
    const config = loadConf(
      `${PROM}[metrics_access]\nlisten = [::1]:6000\nlog_level = debug\nshutdown_grace_period = 2.5\ntarget_refresh_interval = 0\n`,
    );
    expect(config.server).toMatchObject({
      listen: { kind: "tcp", host: "::1", port: 6000 },
      logLevel: "debug",
      shutdownGraceMs: 2500,
      targetRefreshIntervalMs: 0,
    });
  });

  it("lets METRICS_ACCESS__<SECTION>__<OPTION> override the file", () => {
    const config = loadConf(`${PROM}port = 9091\n`, {
      METRICS_ACCESS__PROMETHEUS_CLIENT__PORT: "9999",
      METRICS_ACCESS__PROMETHEUS_CLIENT__FQDN_LABEL: "hostname",
      METRICS_ACCESS__METRICS_ACCESS__LISTEN: "127.0.0.2:7000",
    });
    expect(prometheus(config).origin).toBe("http://prom.example.com:9999");
    expect(prometheus(config).labels.fqdn).toBe("hostname");
    expect(config.server.listen).toEqual({ kind: "tcp", host: "127.0.0.2", port: 7000 });
  });

  it.each(["127.0.0.1", "127.9.9.9", "localhost", "[::1]", "[::ffff:127.0.0.1]"])(
    "serves without caller authentication on the loopback address %s",
    (host) => {
      expect(loadConf(`${PROM}[metrics_access]\nlisten = ${host}:50051\n`).server).toMatchObject({
        callerAuth: { kind: "none" },
        unauthenticatedNetwork: false,
      });
    },
  );

  it.each(["0.0.0.0", "[::]", "10.0.0.5", "metrics.example.net"])(
    "refuses %s without caller authentication, naming listen and the option that allows it",
    (host) => {
      const problems = problemsWith(`${PROM}[metrics_access]\nlisten = ${host}:50051\n`);
      expect(problems).toEqual([
        `[metrics_access] listen "${host}:50051": with caller_auth = none every caller reads with the service's own credentials, so the gRPC port listens only on loopback (127.0.0.0/8, ::1, localhost); set caller_auth to mtls or keystone, or allow_unauthenticated_network = true to serve this address anyway [from ${CONF}:4]`,
      ]);
    },
  );

  it("serves beyond loopback without caller authentication when allow_unauthenticated_network says so", () => {
    const config = loadConf(
      `${PROM}[metrics_access]\nlisten = 0.0.0.0:50051\nallow_unauthenticated_network = true\n`,
    );
    expect(config.server).toMatchObject({
      listen: { kind: "tcp", host: "0.0.0.0" },
      unauthenticatedNetwork: true,
    });
  });

  it("takes an option from the environment alone", () => {
    const config = load({ argv: [], env: { METRICS_ACCESS__PROMETHEUS_CLIENT__HOST: "prom" } });
    expect(prometheus(config).origin).toBe("http://prom:9090");
  });

  it("lets a later --config-file win over an earlier one, in both argument forms", () => {
    const config = load({
      files: {
        "/a.conf": `${PROM}port = 1111\nfqdn_label = a\n`,
        "/b.conf": "[prometheus_client]\nport = 2222\n",
      },
      argv: ["--config-file", "/a.conf", "--config-file=/b.conf"],
    });
    expect(prometheus(config).origin).toBe("http://prom.example.com:2222");
    expect(prometheus(config).labels.fqdn).toBe("a");
  });

  it("reads METRICS_ACCESS_CONFIG_FILE only when no --config-file is given", () => {
    const files = {
      "/env.conf": "[prometheus_client]\nhost = from-env\n",
      "/arg.conf": "[prometheus_client]\nhost = from-arg\n",
    };
    const env = { METRICS_ACCESS_CONFIG_FILE: "/env.conf" };
    expect(prometheus(load({ files, env, argv: [] })).origin).toBe("http://from-env:9090");
    expect(prometheus(load({ files, env, argv: ["--config-file", "/arg.conf"] })).origin).toBe(
      "http://from-arg:9090",
    );
  });

  it.each([
    ["::1", "http://[::1]:9090"],
    ["[::1]", "http://[::1]:9090"],
    ["2001:db8::5", "http://[2001:db8::5]:9090"],
    ["[2001:db8::5]", "http://[2001:db8::5]:9090"],
    ["192.0.2.1", "http://192.0.2.1:9090"],
    ["prometheus", "http://prometheus:9090"],
  ])("builds the origin for host %s", (host, origin) => {
    expect(prometheus(loadConf(`[prometheus_client]\nhost = ${host}\n`)).origin).toBe(origin);
  });

  it("switches to https and verifies with the CA when cafile is set, as Watcher does", () => {
    const config = load({
      files: { [CONF]: `${PROM}cafile = /etc/pki/ca.pem\n`, "/etc/pki/ca.pem": "CA PEM" },
    });
    const source = prometheus(config);
    expect(source.origin).toBe("https://prom.example.com:9090");
    expect(source.tls?.ca?.toString()).toBe("CA PEM");
    expect(source.tls).toMatchObject({ cert: undefined, key: undefined, rejectUnauthorized: true });
  });

  it("switches to https with the system CAs when use_tls is true", () => {
    const source = prometheus(loadConf(`${PROM}use_tls = true\n`));
    expect(source.origin).toBe("https://prom.example.com:9090");
    expect(source.tls).toEqual({ ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: true });
  });

  it("reads the client certificate and key for mutual TLS", () => {
    const config = load({
      files: {
        [CONF]: `${PROM}certfile = /c.pem\nkeyfile = /k.pem\n`,
        "/c.pem": pem.cert,
        "/k.pem": pem.key,
      },
    });
    const source = prometheus(config);
    expect(source.origin).toMatch(/^https:/);
    expect(source.tls?.cert?.toString()).toBe(pem.cert);
    expect(source.tls?.key?.toString()).toBe(pem.key);
  });

  it.each([
    ["/prometheus/", "/prometheus"],
    ["prometheus", "/prometheus"],
    ["//a/b//", "/a/b"],
    ["/", ""],
    ["", ""],
  ])("normalises root_path %j to %j", (rootPath, expected) => {
    expect(prometheus(loadConf(`${PROM}root_path = ${rootPath}\n`)).rootPath).toBe(expected);
  });

  it("reads timeout in seconds, fractions allowed", () => {
    expect(prometheus(loadConf(`${PROM}timeout = 2.5\n`)).timeoutMs).toBe(2500);
  });

  it("returns a deeply frozen configuration", () => {
    const config = load({
      files: {
        [CONF]: `${PROM}username = u\npassword = p\ncafile = /ca.pem\n`,
        "/ca.pem": "CA",
      },
    });
    const source = prometheus(config);
    const parts = [config, config.server, config.server.listen, source, source.labels, source.tls];
    for (const part of [...parts, source.basicAuth]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (config.server.listen as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (source.labels as { fqdn: string }).fqdn = "x";
    }).toThrow(TypeError);
  });
});

describe("loadConfig problems", () => {
  it("names [section] option in every problem and reports all of them at once", () => {
    const problems = problemsWith(`
[metrics_access]
listen = nowhere
log_level = verbose
tls_certfile = /cert.pem
shutdown_grace_period = soon
[prometheus_client]
host = prom.example.com
port = 0
fqdn_label = 1fqdn
instance_uuid_label = uuid-label
username = admin
use_tls = maybe
root_path = /a b/
timeout = 0
`);
    const expected = [
      "[metrics_access] listen",
      "[metrics_access] log_level",
      "[metrics_access] tls_certfile",
      "[metrics_access] shutdown_grace_period",
      "[prometheus_client] port",
      "[prometheus_client] fqdn_label",
      "[prometheus_client] instance_uuid_label",
      "[prometheus_client] username",
      "[prometheus_client] use_tls",
      "[prometheus_client] root_path",
      "[prometheus_client] timeout",
    ];
    for (const name of expected) expect(problems.some((p) => p.startsWith(name))).toBe(true);
    for (const problem of problems) expect(problem).toMatch(/^\[[a-z_]+\] [a-z_]+/);
  });

  it("lists every problem in the error message too", () => {
    const err = configError({ files: { [CONF]: "[prometheus_client]\nport = 0\nfqdn_label = -\n" } });
    for (const problem of err.problems) expect(err.message).toContain(problem);
    expect(err.problems.length).toBeGreaterThanOrEqual(3);
  });

  it.each(["0", "65536", "http", "90.5", "-1"])("rejects port %s", (port) => {
    const problems = problemsWith(`${PROM}port = ${port}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^\[prometheus_client\] port .*1 to 65535/);
  });

  it("accepts ports 1 and 65535", () => {
    expect(prometheus(loadConf(`${PROM}port = 1\n`)).origin).toBe("http://prom.example.com:1");
    expect(prometheus(loadConf(`${PROM}port = 65535\n`)).origin).toBe("http://prom.example.com:65535");
  });

  it.each(["1fqdn", "fq-dn", "fqdn label", "fqdn.name", ""])("rejects the label name %j", (label) => {
    const problems = problemsWith(`${PROM}fqdn_label = ${label}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^\[prometheus_client\] fqdn_label\b/);
  });

  it.each(["http://prom", "prom:9090", "prom/path", "-bad", "[not-an-ip]", "a b"])(
    "rejects the host %j",
    (host) => {
      const problems = problemsWith(`[prometheus_client]\nhost = ${host}\n`);
      expect(problems.some((p) => p.startsWith("[prometheus_client] host"))).toBe(true);
    },
  );

  it("requires the host for the prometheus datasource", () => {
    const problems = problemsWith("[watcher_datasources]\ndatasources = prometheus\n");
    expect(problems).toEqual([expect.stringMatching(/^\[prometheus_client\] host: required/)]);
  });

  it.each([
    ["username", "username = admin"],
    ["password", `password = ${SECRET}`],
  ])("requires username and password together (only %s given)", (_given, line) => {
    const err = configError({ files: { [CONF]: `${PROM}${line}\n` } });
    expect(err.problems).toEqual(["[prometheus_client] username, password: set both or neither"]);
    expect(err.message).not.toContain(SECRET);
  });

  it("requires certfile and keyfile together", () => {
    const problems = configError({ files: { [CONF]: `${PROM}certfile = /c.pem\n`, "/c.pem": "C" } }).problems;
    expect(problems).toEqual([expect.stringMatching(/^\[prometheus_client\] certfile, keyfile/)]);
  });

  it("names the option whose file cannot be read", () => {
    const problems = problemsWith(`${PROM}cafile = /missing/ca.pem\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^\[prometheus_client\] cafile: /);
    expect(problems[0]).toContain("/missing/ca.pem");
    expect(problems[0]).toContain("ENOENT");
  });

  it("names a config file that cannot be read, and judges no option on a guess", () => {
    const err = configError({ argv: ["--config-file", "/nope.conf"] });
    expect(err.problems).toEqual([expect.stringContaining("/nope.conf")]);
  });

  it("reports an INI syntax error with file and line", () => {
    const err = configError({ files: { [CONF]: "[prometheus_client]\nhost = x\nwhat is this\n" } });
    expect(err.problems).toContain(`${CONF}:3: expected "[section]" or "option = value"`);
  });

  it("rejects an unknown option in [metrics_access]", () => {
    const problems = problemsWith(`${PROM}[metrics_access]\nlisten_port = 1\n`);
    expect(problems).toEqual(["[metrics_access] listen_port: unknown option"]);
  });

  it("rejects an unknown METRICS_ACCESS__ variable, naming it", () => {
    const problems = problemsWith(PROM, { METRICS_ACCESS__PROMETHEUS_CLIENT__HOSTNAME: "x" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("METRICS_ACCESS__PROMETHEUS_CLIENT__HOSTNAME");
  });

  it("ignores environment variables that are not METRICS_ACCESS__ overrides", () => {
    expect(() =>
      loadConf(PROM, { METRICS_ACCESS_OTHER: "x", PATH: "/usr/bin", HOME: "/root" }),
    ).not.toThrow();
  });

  it("rejects unknown command-line arguments and a --config-file without a path", () => {
    const err = configError({
      files: { [CONF]: PROM },
      argv: ["--config-file", CONF, "--debug", "--config-file"],
    });
    expect(err.problems).toEqual([expect.stringContaining('"--debug"'), "--config-file needs a path"]);
  });

  it.each([
    ["listen = localhost", "no port"],
    ["listen = [prom]:50051", "brackets around a name"],
    ["listen = 127.0.0.1:70000", "port too large"],
    ["listen = ::1:50051", "IPv6 without brackets"],
    ["listen = unix:run/grpc.sock", "a relative socket path"],
    ["listen = unix://run/grpc.sock", "a host in a unix URI"],
    ["listen = unix:/run/", "a directory"],
    ["listen = unix:", "no path"],
  ])("rejects %s (%s)", (line) => {
    const problems = problemsWith(`${PROM}[metrics_access]\n${line}\n`);
    expect(problems).toEqual([expect.stringMatching(/^\[metrics_access\] listen: /)]);
  });

  it("reads admin_listen and readiness_interval; an empty admin_listen turns the admin port off", () => {
    const config = loadConf(`${PROM}[metrics_access]\nadmin_listen = [::]:9100\nreadiness_interval = 0.5\n`);
    expect(config.server).toMatchObject({ admin: { host: "::", port: 9100 }, readinessIntervalMs: 500 });
    expect(loadConf(`${PROM}[metrics_access]\nadmin_listen =\n`).server.admin).toBeUndefined();
    expect(loadConf(PROM, { METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN: "" }).server.admin).toBeUndefined();
    expect(problemsWith(`${PROM}[metrics_access]\nadmin_listen = 9464\nreadiness_interval = 0\n`)).toEqual([
      expect.stringMatching(/^\[metrics_access\] admin_listen: /),
      expect.stringMatching(/^\[metrics_access\] readiness_interval "0": /),
    ]);
  });

  it.each([
    ["[metrics_access]\ntls_certfile = /c.pem\ntls_keyfile = /k.pem\n", "[metrics_access]", "tls_"],
    ["certfile = /c.pem\nkeyfile = /k.pem\n", "[prometheus_client]", ""],
  ])("checks the certificate and key as TLS will use them (%j)", (lines, section, prefix) => {
    const problems = (cert: string, key: string) =>
      configError({ files: { [CONF]: `${PROM}${lines}`, "/c.pem": cert, "/k.pem": key } }).problems;
    const [notCert] = problems("not a certificate", pem.key);
    expect(notCert).toMatch(`${section} ${prefix}certfile "/c.pem": holds no PEM certificate [from ${CONF}:`);
    const [notKey] = problems(pem.cert, pem.cert);
    expect(notKey).toMatch(
      `${section} ${prefix}keyfile "/k.pem": holds no PEM private key without a passphrase`,
    );
    expect(problems(pem.cert, pem.otherKey)).toEqual([
      `${section} ${prefix}certfile, ${prefix}keyfile: the key does not belong to the certificate`,
    ]);
  });

  it("refuses a unix socket path longer than a socket address holds", () => {
    const path = `/run/${"d".repeat(98)}.sock`;
    expect(Buffer.byteLength(path)).toBe(108);
    expect(problemsWith(`${PROM}[metrics_access]\nlisten = unix:${path}\n`)).toEqual([
      `[metrics_access] listen "unix:${path}": a unix socket path is at most 107 bytes [from ${CONF}:4]`,
    ]);
    const longest = `/run/${"d".repeat(97)}.sock`;
    expect(loadConf(`${PROM}[metrics_access]\nlisten = unix:${longest}\n`).server.listen).toEqual({
      kind: "unix",
      path: longest,
    });
  });

  it("requires tls_certfile and tls_keyfile together", () => {
    const err = configError({
      files: { [CONF]: `${PROM}[metrics_access]\ntls_keyfile = /k.pem\n`, "/k.pem": "K" },
    });
    expect(err.problems).toEqual(["[metrics_access] tls_certfile, tls_keyfile: set both or neither"]);
  });

  it("reports a non-numeric timeout once", () => {
    const problems = problemsWith(`${PROM}timeout = soon\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^\[prometheus_client\] timeout\b/);
  });
});

describe("the gRPC port: listen and TLS", () => {
  it.each(["unix:/run/metrics-access/grpc.sock", "unix:///run/metrics-access/grpc.sock"])(
    "listens on a unix socket for %s, which counts as loopback without caller authentication",
    (listen) => {
      expect(loadConf(`${PROM}[metrics_access]\nlisten = ${listen}\n`).server).toMatchObject({
        listen: { kind: "unix", path: "/run/metrics-access/grpc.sock" },
        callerAuth: { kind: "none" },
        unauthenticatedNetwork: false,
      });
    },
  );

  it("keeps the TLS files' paths for reloading, and reads tls_reload_interval", () => {
    const files = { "/c.pem": pem.cert, "/k.pem": pem.key };
    const tls = "tls_certfile = /c.pem\ntls_keyfile = /k.pem\n";
    const config = load({
      files: { ...files, [CONF]: `${PROM}[metrics_access]\n${tls}tls_reload_interval = 2.5\n` },
    });
    expect(config.server.tls).toEqual({
      cert: Buffer.from(pem.cert),
      key: Buffer.from(pem.key),
      certFile: "/c.pem",
      keyFile: "/k.pem",
      clientCa: undefined,
    });
    expect(config.server.tlsReloadIntervalMs).toBe(2500);
    const off = load({
      files: { ...files, [CONF]: `${PROM}[metrics_access]\n${tls}tls_reload_interval = 0\n` },
    });
    expect(off.server.tlsReloadIntervalMs).toBe(0);
    expect(problemsWith(`${PROM}[metrics_access]\ntls_reload_interval = -1\n`)).toEqual([
      expect.stringMatching(/^\[metrics_access\] tls_reload_interval "-1": must be a number from 0/),
    ]);
  });

  it("hands the client CA of caller_auth = mtls to the TLS server, with its path", () => {
    const ca = readFileSync(pki.caFile, "utf8");
    const config = load({
      files: {
        "/c.pem": pem.cert,
        "/k.pem": pem.key,
        "/clients-ca.pem": ca,
        [CONF]: `${PROM}[metrics_access]\ntls_certfile = /c.pem\ntls_keyfile = /k.pem\ncaller_auth = mtls\ntls_client_cafile = /clients-ca.pem\n`,
      },
    });
    expect(config.server.tls?.clientCa).toEqual({ pem: Buffer.from(ca), file: "/clients-ca.pem" });
  });
});

describe("choosing the datasource", () => {
  it("refuses prometheus and aetos together, naming both", () => {
    const problems = problemsWith(`[watcher_datasources]\ndatasources = gnocchi, prometheus, aetos\n${PROM}`);
    const conflict = problems.filter((p) => p.startsWith("[watcher_datasources] datasources"));
    expect(conflict).toHaveLength(1);
    expect(conflict[0]).toContain("prometheus");
    expect(conflict[0]).toContain("aetos");
  });

  it("refuses a list with neither prometheus nor aetos", () => {
    const problems = problemsWith(`[watcher_datasources]\ndatasources = gnocchi,grafana\n${PROM}`);
    expect(problems).toEqual([
      expect.stringMatching(/^\[watcher_datasources\] datasources: .*gnocchi, grafana/),
    ]);
  });

  it("uses the one Watcher datasource named among others", () => {
    expect(
      loadConf(`[watcher_datasources]\ndatasources = gnocchi, prometheus\n${PROM}`).datasource.kind,
    ).toBe("prometheus");
  });

  it("picks prometheus when the list is unset and [prometheus_client] host is set", () => {
    expect(loadConf(PROM).datasource.kind).toBe("prometheus");
  });

  it("picks aetos when the list is unset and no Prometheus host is set", () => {
    const problems = problemsWith("");
    expect(problems.some((p) => p.startsWith("[watcher_clients_auth] auth_url"))).toBe(true);
    expect(problems.some((p) => p.startsWith("[prometheus_client]"))).toBe(false);
  });
});

describe("secrets", () => {
  it("never shows a secret, whatever else is wrong", () => {
    const texts = [
      `[prometheus_client]\nhost = -bad\nport = 0\npassword = ${SECRET}\n`,
      `[watcher_datasources]\ndatasources = aetos\n[watcher_clients_auth]\nauth_type = password\nauth_url = nope\npassword = ${SECRET}\n`,
      `[watcher_datasources]\ndatasources = aetos\n[watcher_clients_auth]\nauth_type = v3applicationcredential\napplication_credential_secret = ${SECRET}\n`,
    ];
    for (const text of texts) {
      const err = configError({ files: { [CONF]: text } });
      expect(err.problems.length).toBeGreaterThan(0);
      expect(err.message).not.toContain(SECRET);
      expect(err.problems.join("\n")).not.toContain(SECRET);
    }
  });

  it("does not show a secret given through the environment", () => {
    const err = configError({
      files: { [CONF]: "[prometheus_client]\nhost = prom\n" },
      env: { METRICS_ACCESS__PROMETHEUS_CLIENT__PASSWORD: SECRET },
    });
    expect(err.message).not.toContain(SECRET);
  });

  it("does not show a secret put under a misspelt option or variable", () => {
    const cases: Input[] = [
      { files: { [CONF]: `${PROM}[metrics_access]\npassword = ${SECRET}\n` } },
      { files: { [CONF]: PROM }, env: { METRICS_ACCESS__PROMETHEUS_CLIENT__PASWORD: SECRET } },
      { files: { [CONF]: `password = ${SECRET}\n${PROM}` } },
      { files: { [CONF]: `${PROM}${SECRET}\n` } },
    ];
    for (const input of cases) {
      const err = configError(input);
      expect(err.message).not.toContain(SECRET);
    }
  });
});

const AETOS = "[watcher_datasources]\ndatasources = aetos\n";

function keystoneConf(auth: string, extra = ""): string {
  return `${AETOS}[watcher_clients_auth]\nauth_url = https://keystone.example.com:5000/v3/\n${auth}${extra}`;
}

describe("loadConfig with Aetos", () => {
  it("reads password authentication by user name and domain, project name and domain", () => {
    const config = loadConf(
      keystoneConf(
        `auth_type = password\nusername = watcher\nuser_domain_name = Default\npassword = ${SECRET}\nproject_name = service\nproject_domain_name = Default\n`,
      ),
    );
    expect(aetos(config)).toEqual({
      kind: "aetos",
      keystone: {
        authUrl: "https://keystone.example.com:5000/v3",
        credentials: {
          method: "password",
          user: { name: "watcher", domain: { name: "Default" } },
          password: SECRET,
          project: { name: "service", domain: { name: "Default" } },
        },
        tls: { ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: true },
        timeoutMs: 30_000,
      },
      interface: "public",
      regionName: undefined,
      labels: { fqdn: "fqdn", instanceUuid: "resource" },
      maxUrlLength: 8000,
      requirePrivilegedRole: false,
      forwardCallerToken: false,
    });
  });

  it("reads password authentication by ids (v3password)", () => {
    const config = loadConf(
      keystoneConf(
        "auth_type = v3password\nuser_id = u-1\npassword = p\nproject_id = p-1\nproject_name = ignored\n",
      ),
    );
    expect(aetos(config).keystone.credentials).toEqual({
      method: "password",
      user: { id: "u-1" },
      password: "p",
      project: { id: "p-1" },
    });
  });

  it("reads domain ids for user and project", () => {
    const config = loadConf(
      keystoneConf(
        "auth_type = password\nusername = w\nuser_domain_id = default\npassword = p\nproject_name = s\nproject_domain_id = d-2\n",
      ),
    );
    expect(aetos(config).keystone.credentials).toEqual({
      method: "password",
      user: { name: "w", domain: { id: "default" } },
      password: "p",
      project: { name: "s", domain: { id: "d-2" } },
    });
  });

  it("reads an application credential by id", () => {
    const config = loadConf(
      keystoneConf(
        `auth_type = v3applicationcredential\napplication_credential_id = ac-1\napplication_credential_secret = ${SECRET}\n`,
      ),
    );
    expect(aetos(config).keystone.credentials).toEqual({
      method: "application_credential",
      secret: SECRET,
      credential: { id: "ac-1" },
    });
  });

  it("reads an application credential by name with its user", () => {
    const byName = loadConf(
      keystoneConf(
        "auth_type = v3applicationcredential\napplication_credential_name = watcher-ac\napplication_credential_secret = s\nusername = watcher\nuser_domain_name = Default\n",
      ),
    );
    expect(aetos(byName).keystone.credentials).toEqual({
      method: "application_credential",
      secret: "s",
      credential: { name: "watcher-ac", user: { name: "watcher", domain: { name: "Default" } } },
    });
    const byUserId = loadConf(
      keystoneConf(
        "auth_type = v3applicationcredential\napplication_credential_name = watcher-ac\napplication_credential_secret = s\nuser_id = u-1\n",
      ),
    );
    expect(aetos(byUserId).keystone.credentials).toMatchObject({
      credential: { name: "watcher-ac", user: { id: "u-1" } },
    });
  });

  it.each([
    ["publicURL", "public"],
    ["internalURL", "internal"],
    ["adminURL", "admin"],
    ["internal", "internal"],
  ])("maps interface %s to %s", (given, expected) => {
    const config = loadConf(
      keystoneConf(
        "auth_type = password\nuser_id = u\npassword = p\nproject_id = p\n",
        `[aetos_client]\ninterface = ${given}\nregion_name = RegionTwo\n`,
      ),
    );
    expect(aetos(config).interface).toBe(expected);
    expect(aetos(config).regionName).toBe("RegionTwo");
  });

  it("uses the [aetos_client] label names, not the [prometheus_client] ones", () => {
    const config = loadConf(
      keystoneConf(
        "auth_type = password\nuser_id = u\npassword = p\nproject_id = p\n",
        "[aetos_client]\nfqdn_label = host_fqdn\ninstance_uuid_label = vm\n[prometheus_client]\nfqdn_label = wrong\n",
      ),
    );
    expect(aetos(config).labels).toEqual({ fqdn: "host_fqdn", instanceUuid: "vm" });
  });

  it("reads TLS material, insecure and timeout from [watcher_clients_auth]", () => {
    const config = load({
      files: {
        [CONF]: keystoneConf(
          "auth_type = password\nuser_id = u\npassword = p\nproject_id = p\ncafile = /ca.pem\ninsecure = true\ntimeout = 5\n",
        ),
        "/ca.pem": "CA",
      },
    });
    const keystone = aetos(config).keystone;
    expect(keystone.tls.ca?.toString()).toBe("CA");
    expect(keystone.tls.rejectUnauthorized).toBe(false);
    expect(keystone.timeoutMs).toBe(5000);
  });

  it("is deeply frozen", () => {
    const config = loadConf(
      keystoneConf(
        "auth_type = password\nusername = w\nuser_domain_name = D\npassword = p\nproject_name = s\nproject_domain_name = D\n",
      ),
    );
    const source = aetos(config);
    const credentials = source.keystone.credentials;
    if (credentials.method !== "password") throw new Error("expected password credentials");
    for (const part of [
      source,
      source.keystone,
      source.keystone.tls,
      credentials,
      credentials.user,
      credentials.project,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(Object.isFrozen("domain" in credentials.user ? credentials.user.domain : undefined)).toBe(true);
  });

  it.each([
    [
      "no auth_url",
      `${AETOS}[watcher_clients_auth]\nauth_type = password\nuser_id = u\npassword = p\nproject_id = p\n`,
      ["[watcher_clients_auth] auth_url"],
    ],
    [
      "no auth_type",
      keystoneConf("user_id = u\npassword = p\nproject_id = p\n"),
      ["[watcher_clients_auth] auth_type"],
    ],
    [
      "no user",
      keystoneConf("auth_type = password\npassword = p\nproject_id = p\n"),
      ["[watcher_clients_auth] user_id or username"],
    ],
    [
      "a user name without its domain",
      keystoneConf("auth_type = password\nusername = w\npassword = p\nproject_id = p\n"),
      ["[watcher_clients_auth] user_domain_id or user_domain_name"],
    ],
    [
      "no password",
      keystoneConf("auth_type = password\nuser_id = u\nproject_id = p\n"),
      ["[watcher_clients_auth] password"],
    ],
    [
      "no project",
      keystoneConf("auth_type = password\nuser_id = u\npassword = p\n"),
      ["[watcher_clients_auth] project_id or project_name"],
    ],
    [
      "a project name without its domain",
      keystoneConf("auth_type = password\nuser_id = u\npassword = p\nproject_name = s\n"),
      ["[watcher_clients_auth] project_domain_id or project_domain_name"],
    ],
    [
      "an application credential without a secret",
      keystoneConf("auth_type = v3applicationcredential\napplication_credential_id = ac\n"),
      ["[watcher_clients_auth] application_credential_secret"],
    ],
    [
      "an application credential with neither id nor name",
      keystoneConf("auth_type = v3applicationcredential\napplication_credential_secret = s\n"),
      ["[watcher_clients_auth] application_credential_id or application_credential_name"],
    ],
    [
      "an application credential name without a user",
      keystoneConf(
        "auth_type = v3applicationcredential\napplication_credential_name = ac\napplication_credential_secret = s\n",
      ),
      ["[watcher_clients_auth] user_id or username"],
    ],
    [
      "an auth_url that is not a URL",
      `${AETOS}[watcher_clients_auth]\nauth_url = keystone:5000\nauth_type = password\nuser_id = u\npassword = p\nproject_id = p\n`,
      ["[watcher_clients_auth] auth_url"],
    ],
    [
      "an auth_url whose port is out of range",
      `${AETOS}[watcher_clients_auth]\nauth_url = http://keystone:99999/v3\nauth_type = password\nuser_id = u\npassword = p\nproject_id = p\n`,
      ["[watcher_clients_auth] auth_url"],
    ],
    [
      "an unknown interface",
      keystoneConf(
        "auth_type = password\nuser_id = u\npassword = p\nproject_id = p\n",
        "[aetos_client]\ninterface = private\n",
      ),
      ["[aetos_client] interface"],
    ],
  ])("reports %s, naming the options", (_case, text, expected) => {
    const problems = problemsWith(text);
    expect(problems).toHaveLength(expected.length);
    for (const [i, prefix] of expected.entries()) expect(problems[i]?.startsWith(prefix)).toBe(true);
  });

  it("reports an unknown auth_type as invalid, not as missing", () => {
    const problems = problemsWith(
      keystoneConf("auth_type = token\nuser_id = u\npassword = p\nproject_id = p\n"),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^\[watcher_clients_auth\] auth_type "token": must be one of/),
    ]);
  });

  it("refuses an IPv6 zone identifier, which cannot go into a URL", () => {
    const problems = problemsWith("[prometheus_client]\nhost = fe80::1%eth0\n");
    expect(problems).toEqual([
      expect.stringMatching(/^\[prometheus_client\] host "fe80::1%eth0": IPv6 zone identifiers/),
    ]);
  });

  it("bounds durations, so that no setTimeout overflows", () => {
    const problems = problemsWith(`${PROM}[metrics_access]\nshutdown_grace_period = 3000000\n`);
    expect(problems).toEqual([
      expect.stringMatching(
        /^\[metrics_access\] shutdown_grace_period "3000000": must be a number from 0 to 86400/,
      ),
    ]);
  });
});

describe("caller authentication", () => {
  const KEYSTONE_USER = `[watcher_clients_auth]
auth_type = password
auth_url = https://keystone.example:5000/v3
username = watcher
user_domain_name = Default
password = ${SECRET}
project_name = service
project_domain_name = Default
`;

  it("reads caller_auth = keystone for direct Prometheus, validating with [watcher_clients_auth]", () => {
    const config = loadConf(
      `${PROM}${KEYSTONE_USER}[metrics_access]\ncaller_auth = keystone\ntoken_cache_time = 60\ntoken_cache_size = 50\n`,
    );
    expect(config.server.callerAuth).toMatchObject({
      kind: "keystone",
      keystone: {
        authUrl: "https://keystone.example:5000/v3",
        credentials: { method: "password", password: SECRET },
      },
      roles: ["admin", "service"],
      cacheTimeMs: 60_000,
      cacheSize: 50,
    });
  });

  it("validates with the Aetos datasource's own Keystone user, and forwards tokens when asked", () => {
    const config = loadConf(
      `[watcher_datasources]\ndatasources = aetos\n${KEYSTONE_USER}[aetos_client]\nforward_caller_token = true\n[metrics_access]\ncaller_auth = keystone\ncaller_roles = admin, member\n`,
    );
    expect(aetos(config).forwardCallerToken).toBe(true);
    const auth = config.server.callerAuth;
    expect(auth.kind === "keystone" && auth.roles).toEqual(["admin", "member"]);
    expect(auth.kind === "keystone" && auth.keystone).toBe(aetos(config).keystone);
  });

  it("lets Keystone callers reach a port beyond loopback over TLS", () => {
    const files = { "/c.pem": pem.cert, "/k.pem": pem.key };
    const config = load({
      files: {
        ...files,
        [CONF]: `${PROM}${KEYSTONE_USER}[metrics_access]\nlisten = 0.0.0.0:50051\ncaller_auth = keystone\ntls_certfile = /c.pem\ntls_keyfile = /k.pem\n`,
      },
    });
    expect(config.server).toMatchObject({ callerAuth: { kind: "keystone" }, unauthenticatedNetwork: false });
  });

  it("reads caller_auth = mtls with its allowed subjects", () => {
    const config = load({
      files: {
        "/c.pem": pem.cert,
        "/k.pem": pem.key,
        "/ca.pem": readFileSync(pki.caFile, "utf8"),
        [CONF]: `${PROM}[metrics_access]\nlisten = [::]:50051\ntls_certfile = /c.pem\ntls_keyfile = /k.pem\ncaller_auth = mtls\ntls_client_cafile = /ca.pem\ntls_client_allowed_subjects = CN=engine, URI:spiffe://example.org/ns/w/sa/engine\n`,
      },
    });
    expect(config.server.callerAuth).toMatchObject({
      kind: "mtls",
      allowedSubjects: ["CN=engine", "URI:spiffe://example.org/ns/w/sa/engine"],
    });
    expect(config.server.unauthenticatedNetwork).toBe(false);
  });
});

describe("[prometheus_client] request_headers and the tenant path (multi-tenant stores)", () => {
  const TOKEN = "Bearer tenant-token-9f3a61c2";
  const ENV = "METRICS_ACCESS__PROMETHEUS_CLIENT__REQUEST_HEADERS";

  it("sends no extra header by default", () => {
    expect(prometheus(loadConf(PROM)).requestHeaders).toBeUndefined();
  });

  it("reads comma-separated Name: value pairs, names in lower case, values trimmed", () => {
    const config = loadConf(`${PROM}request_headers = X-Scope-OrgID: tenant-a, Authorization: ${TOKEN}\n`);
    expect(prometheus(config).requestHeaders).toEqual({ "x-scope-orgid": "tenant-a", authorization: TOKEN });
  });

  it("reads one header per continuation line, where a value may hold commas and colons", () => {
    const config = loadConf(
      `${PROM}request_headers =\n  X-Scope-OrgID: tenant-a|tenant-b\n  X-Tags: a, b\n  X-Url: http://x:1/\n`,
    );
    expect(prometheus(config).requestHeaders).toEqual({
      "x-scope-orgid": "tenant-a|tenant-b",
      "x-tags": "a, b",
      "x-url": "http://x:1/",
    });
  });

  it("reads the environment variable, with newlines between headers", () => {
    const config = loadConf(PROM, { [ENV]: "X-Scope-OrgID: t1\r\nX-Tags: a,b\n" });
    expect(prometheus(config).requestHeaders).toEqual({ "x-scope-orgid": "t1", "x-tags": "a,b" });
  });

  it("keeps a name such as __proto__ as a plain header", () => {
    const headers = prometheus(loadConf(`${PROM}request_headers = __proto__: x\n`)).requestHeaders;
    expect(Object.keys(headers ?? {})).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  });

  it("takes a tenant path prefix in root_path (VictoriaMetrics cluster's vmselect)", () => {
    for (const rootPath of ["select/0/prometheus", "/select/0/prometheus/", "select/1:2/prometheus"]) {
      const config = loadConf(`${PROM}root_path = ${rootPath}\n`);
      expect(prometheus(config).rootPath).toBe(`/${rootPath.replace(/^\/|\/$/g, "")}`);
    }
  });

  it.each([
    ["X-Scope-OrgID tenant-a", "header 1 is not written Name: value"],
    ["X-Ok: 1, Bad Name: 2", "header 2: the name is not an HTTP token (RFC 9110)"],
    [": tenant-q7", "header 1: the name is not an HTTP token (RFC 9110)"],
    ["Host: other.example", "header 1: host is set by the client itself or concerns one connection only"],
    [
      "X-Ok: 1, Content-Length: 0",
      "header 2: content-length is set by the client itself or concerns one connection only",
    ],
    [
      "Content-Type: text/plain",
      "header 1: content-type is set by the client itself or concerns one connection only",
    ],
    ["Connection: close", "header 1: connection is set by the client itself or concerns one connection only"],
    [
      "Transfer-Encoding: chunked",
      "header 1: transfer-encoding is set by the client itself or concerns one connection only",
    ],
    [
      "Keep-Alive: timeout=5",
      "header 1: keep-alive is set by the client itself or concerns one connection only",
    ],
    ["Upgrade: h2c", "header 1: upgrade is set by the client itself or concerns one connection only"],
    [
      "X-Empty:",
      "header 1: the value is empty or holds a character other than printable ASCII, space and tab",
    ],
    [
      "X-Tenant: tenant-ä",
      "header 1: the value is empty or holds a character other than printable ASCII, space and tab",
    ],
    ["X-Scope-OrgID: a, x-scope-orgid: b", "header 2: the same name is given twice"],
  ])("refuses %j without echoing it", (value, problem) => {
    const problems = problemsWith(`${PROM}request_headers = ${value}\n`);
    expect(problems).toEqual([
      `[prometheus_client] request_headers (value hidden): ${problem} [from ${CONF}:3]`,
    ]);
    const shown = problems.join("\n");
    for (const part of value
      .split(/[,:]/)
      .map((p) => p.trim())
      .filter((p) => p.length > 3)) {
      if (
        !/^(Host|Content-Length|Content-Type|Connection|Transfer-Encoding|Keep-Alive|Upgrade)$/.test(part)
      ) {
        expect(shown).not.toContain(part);
      }
    }
  });

  it("refuses an Authorization header beside username and password, hiding both", () => {
    const problems = problemsWith(
      `${PROM}username = reader\npassword = ${SECRET}\nrequest_headers = Authorization: ${TOKEN}\n`,
    );
    expect(problems).toEqual([
      `[prometheus_client] request_headers (value hidden): header 1: authorization would replace the basic auth of username and password; set one or the other [from ${CONF}:5]`,
    ]);
    expect(problems.join("\n")).not.toContain("tenant-token");
    expect(problems.join("\n")).not.toContain(SECRET);
  });

  it("names the environment variable a bad value came from", () => {
    const problems = problemsWith(PROM, { [ENV]: "X-Scope-OrgID: a\nno colon here" });
    expect(problems).toEqual([
      `[prometheus_client] request_headers (value hidden): header 2 is not written Name: value [from environment ${ENV}]`,
    ]);
  });

  it("loads the examples of docs/configuration.md's Multi-tenant stores", () => {
    const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    const section = doc.slice(
      doc.indexOf("## Multi-tenant stores"),
      doc.indexOf("## Aetos through Keystone"),
    );
    const blocks = [...section.matchAll(/^( *)```ini\n([\s\S]*?)^\1```$/gm)].map(
      ([, indent = "", text = ""]) => text.replace(new RegExp(`^${indent}`, "gm"), ""),
    );
    expect(blocks).toHaveLength(3);
    const [mimir = "", lines = "", victoria = ""] = blocks;
    expect(prometheus(loadConf(mimir)).requestHeaders).toEqual({
      "x-scope-orgid": "tenant-a",
      authorization: "Bearer gateway-token-1234",
    });
    expect(prometheus(loadConf(`${PROM}${lines}`)).requestHeaders).toEqual({
      "x-scope-orgid": "tenant-a|tenant-b",
      "x-extra": "a, b",
    });
    expect(prometheus(loadConf(victoria)).rootPath).toBe("/select/0/prometheus");
  });

  it("reports every bad header at once", () => {
    const problems = problemsWith(`${PROM}request_headers = Host: h, X-A:, bad\n`);
    expect(problems.map((p) => p.replace(/^.*\): /, "").replace(/ \[from .*$/, ""))).toEqual([
      "header 1: host is set by the client itself or concerns one connection only",
      "header 2: the value is empty or holds a character other than printable ASCII, space and tab",
      "header 3 is not written Name: value",
    ]);
  });
});
