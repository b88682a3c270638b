/**
 * The deployment examples in deploy/ are checked, not just shown: every Kubernetes object against
 * the upstream schema and for unknown fields, the compose file against the compose-spec schema,
 * Prometheus's configuration with promtool, and the service's ini files with the service's own
 * configuration loader, read from the paths the manifests mount them at. A second group proves
 * that each validator rejects what it should.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/types.js";
import {
  composeProblems,
  isRecord,
  type KubernetesObject,
  type ManifestDocument,
  parseYaml,
  ROOT,
  readManifest,
  schemaProblems,
  unknownFieldProblems,
  yamlFilesUnder,
} from "./validators.js";

const execFileAsync = promisify(execFile);

const KUBERNETES_FILES = yamlFilesUnder("deploy/kubernetes");
const IMAGE = "metrics-access:0.2.0";
/** The password placeholder of the example Secret: a real one never belongs in the repository. */
const PLACEHOLDER = "CHANGE-ME";

function objectsIn(directory: string): ManifestDocument[] {
  return KUBERNETES_FILES.filter((f) => f.startsWith(`${directory}/`)).flatMap(readManifest);
}

function find<T>(documents: readonly ManifestDocument[], kind: string, name: string): T {
  const found = documents.find((d) => d.object.kind === kind && metadataName(d.object) === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${documents.map((d) => d.file).join(", ")}`);
  // The schema tests below hold every document to its kind's schema and interface.
  return found.object as unknown as T;
}

function metadataName(object: KubernetesObject): unknown {
  return isRecord(object.metadata) ? object.metadata.name : undefined;
}

function only<T>(items: readonly T[] | undefined, what: string): T {
  if (items?.length !== 1 || items[0] === undefined) throw new Error(`expected exactly one ${what}`);
  return items[0];
}

function fileNotFound(path: string): Error {
  return Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
}

/**
 * The environment the image sets (ENV in the last stage of the top-level Dockerfile): it overrides
 * the ini files as any METRICS_ACCESS__… variable does, so the examples are judged with it.
 */
function imageEnvironment(): Record<string, string> {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const lastStage = dockerfile.split(/^FROM\s/m).at(-1) ?? "";
  const env: Record<string, string> = {};
  for (const [, pairs = ""] of lastStage.matchAll(/^ENV\s+(.*)$/gm)) {
    for (const [, key = "", quoted, bare] of pairs.matchAll(
      /([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))/g,
    )) {
      env[key] = quoted ?? bare ?? "";
    }
  }
  return env;
}

/**
 * The configuration the container would load: its args, its literal environment, and the files of
 * the ConfigMaps and Secrets it mounts, at the paths it mounts them.
 */
function containerConfig(
  documents: readonly ManifestDocument[],
  deployment: IDeployment,
  container: IContainer,
): Config {
  const files = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = deployment.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
    let data: Record<string, string> = {};
    if (volume?.configMap?.name) {
      data = find<IConfigMap>(documents, "ConfigMap", volume.configMap.name).data ?? {};
    } else if (volume?.secret?.secretName) {
      const secret = find<ISecret>(documents, "Secret", volume.secret.secretName);
      data = { ...secret.stringData };
      for (const [key, value] of Object.entries(secret.data ?? {})) {
        data[key] = Buffer.from(value, "base64").toString("utf8");
      }
    }
    for (const [key, text] of Object.entries(data)) files.set(`${mount.mountPath}/${key}`, text);
  }
  const env: NodeJS.ProcessEnv = imageEnvironment();
  for (const variable of container.env ?? []) {
    if (variable.valueFrom)
      throw new Error(`${variable.name}: resolve valueFrom in this test before using it`);
    env[variable.name] = variable.value ?? "";
  }
  return loadConfig({
    argv: container.args ?? [],
    env,
    readFile(path) {
      const text = files.get(path);
      if (text === undefined) throw fileNotFound(path);
      return Buffer.from(text);
    },
  });
}

/** The port number a probe or a Service names, by number or by the container's port name. */
/** The gRPC port of a configuration that listens on TCP (every example does). */
function grpcPort(config: Config): number {
  if (config.server.listen.kind !== "tcp") throw new Error("expected listen to be host:port");
  return config.server.listen.port;
}

function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function expectHardened(container: IContainer): void {
  expect(container.image).toBe(IMAGE);
  expect(container.securityContext).toMatchObject({
    runAsNonRoot: true,
    runAsUser: 1000,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  expect(container.securityContext?.capabilities?.add ?? []).toEqual([]);
  expect(container.resources?.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
  expect(container.resources?.limits).toMatchObject({ memory: expect.anything() });
  expect(container.env).toContainEqual({ name: "NODE_OPTIONS", value: "--max-semi-space-size=2" });
}

/** Liveness and start-up on /healthz, readiness on /readyz, all on the port the config's admin_listen names. */
function expectProbesOnAdminPort(container: IContainer, config: Config): void {
  const adminPort = config.server.admin?.port;
  expect(adminPort).toBeDefined();
  expect(container.startupProbe?.httpGet?.path).toBe("/healthz");
  expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
  expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
  for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
    expect(portNumber(container, probe?.httpGet?.port)).toBe(adminPort);
  }
}

function expectScrapeAnnotations(deployment: IDeployment, config: Config): void {
  expect(deployment.spec?.template.metadata?.annotations).toMatchObject({
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(config.server.admin?.port),
    "prometheus.io/path": "/metrics",
  });
}

/**
 * The checks of the "restricted" Pod Security Standard that a Deployment can fail: host namespaces
 * and ports, privileged containers, volume types, privilege escalation, capabilities, non-root,
 * seccomp. A namespace labelled pod-security.kubernetes.io/enforce=restricted admits these pods.
 */
function restrictedProblems(deployment: IDeployment): string[] {
  const pod = deployment.spec?.template.spec;
  if (!pod) return ["no pod template"];
  const problems: string[] = [];
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push("host namespaces");
  const allowedVolumes = new Set([
    "configMap",
    "secret",
    "emptyDir",
    "projected",
    "downwardAPI",
    "csi",
    "ephemeral",
    "persistentVolumeClaim",
  ]);
  for (const volume of pod.volumes ?? []) {
    for (const type of Object.keys(volume).filter((k) => k !== "name")) {
      if (!allowedVolumes.has(type)) problems.push(`volume ${volume.name}: ${type}`);
    }
  }
  const podContext = pod.securityContext;
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    const context = container.securityContext;
    const where = `container ${container.name}`;
    if (container.ports?.some((p) => p.hostPort !== undefined)) problems.push(`${where}: hostPort`);
    if (context?.privileged) problems.push(`${where}: privileged`);
    if (context?.allowPrivilegeEscalation !== false)
      problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (!context?.capabilities?.drop?.includes("ALL"))
      problems.push(`${where}: capabilities do not drop ALL`);
    if ((context?.capabilities?.add ?? []).some((c) => c !== "NET_BIND_SERVICE"))
      problems.push(`${where}: adds capabilities`);
    if ((context?.runAsNonRoot ?? podContext?.runAsNonRoot) !== true)
      problems.push(`${where}: runAsNonRoot is not true`);
    if ((context?.runAsUser ?? podContext?.runAsUser) === 0) problems.push(`${where}: runs as uid 0`);
    const seccomp = context?.seccompProfile?.type ?? podContext?.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      problems.push(`${where}: no seccomp profile`);
  }
  return problems;
}

describe("the image the examples run", () => {
  it("sets admin_listen through its environment, which the examples are judged with", () => {
    expect(imageEnvironment()).toMatchObject({
      METRICS_ACCESS__METRICS_ACCESS__ADMIN_LISTEN: "0.0.0.0:9464",
    });
  });
});

describe("the Kubernetes examples", () => {
  it("are the files this test knows", () => {
    expect(KUBERNETES_FILES).toEqual([
      "deploy/kubernetes/shared/configmap.yaml",
      "deploy/kubernetes/shared/deployment.yaml",
      "deploy/kubernetes/shared/networkpolicy.yaml",
      "deploy/kubernetes/shared/poddisruptionbudget.yaml",
      "deploy/kubernetes/shared/service.yaml",
      "deploy/kubernetes/sidecar/configmap.yaml",
      "deploy/kubernetes/sidecar/deployment.yaml",
      "deploy/kubernetes/sidecar/secret.yaml",
    ]);
  });

  it.each(KUBERNETES_FILES)("%s fits the Kubernetes schemas", (file) => {
    const documents = readManifest(file);
    expect(documents.length).toBeGreaterThan(0);
    expect(documents.flatMap(schemaProblems)).toEqual([]);
  });

  it("use no field their kinds lack", () => {
    expect(unknownFieldProblems(KUBERNETES_FILES.flatMap(readManifest))).toEqual([]);
  });

  it("run pods the restricted Pod Security Standard admits", () => {
    const deployments = KUBERNETES_FILES.flatMap(readManifest).filter((d) => d.object.kind === "Deployment");
    expect(deployments).toHaveLength(2);
    for (const document of deployments) {
      expect(restrictedProblems(document.object as unknown as IDeployment), document.file).toEqual([]);
    }
  });

  describe("the sidecar", () => {
    const documents = objectsIn("deploy/kubernetes/sidecar");
    const deployment = find<IDeployment>(documents, "Deployment", "decision-engine");
    const pod = deployment.spec?.template.spec;
    const sidecar = only(pod?.initContainers, "init container (the native sidecar)");
    const engine = only(pod?.containers, "main container (the decision engine)");

    it("loads with the service's configuration loader, from the files it mounts", () => {
      const config = containerConfig(documents, deployment, sidecar);
      expect(config.server.listen).toEqual({ kind: "tcp", host: "127.0.0.1", port: 50051 });
      expect(config.server.admin).toEqual({ host: "0.0.0.0", port: 9464 });
      expect(config.datasource.kind).toBe("aetos");
      if (config.datasource.kind !== "aetos") return;
      expect(config.datasource.keystone.credentials).toMatchObject({
        method: "password",
        password: PLACEHOLDER,
      });
    });

    it("is a hardened native sidecar, probed on the admin port and scraped there", () => {
      const config = containerConfig(documents, deployment, sidecar);
      expect(sidecar.name).toBe("metrics-access");
      expect(sidecar.restartPolicy).toBe("Always");
      expectHardened(sidecar);
      expectProbesOnAdminPort(sidecar, config);
      expectScrapeAnnotations(deployment, config);
      expect(pod?.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod?.automountServiceAccountToken).toBe(false);
    });

    it("keeps the password in the Secret, mounted by the sidecar alone and readable by its group only", () => {
      const secret = find<ISecret>(documents, "Secret", "decision-engine-keystone");
      const volume = pod?.volumes?.find((v) => v.secret?.secretName === secret.metadata?.name);
      expect(volume?.secret?.defaultMode).toBe(0o440);
      expect(pod?.securityContext?.fsGroup).toBe(1000);
      expect(sidecar.volumeMounts?.some((m) => m.name === volume?.name && m.readOnly)).toBe(true);
      expect(engine.volumeMounts ?? []).toEqual([]);
      const configMap = find<IConfigMap>(documents, "ConfigMap", "decision-engine-metrics-access");
      expect(JSON.stringify(configMap)).not.toMatch(/password\s*=/);
    });
  });

  describe("the shared service", () => {
    const documents = objectsIn("deploy/kubernetes/shared");
    const deployment = find<IDeployment>(documents, "Deployment", "metrics-access");
    const pod = deployment.spec?.template;
    const container = only(pod?.spec?.containers, "container");

    it("loads with the service's configuration loader and listens where the Service sends calls", () => {
      const config = containerConfig(documents, deployment, container);
      expect(config.datasource.kind).toBe("prometheus");
      const service = find<IService>(documents, "Service", "metrics-access");
      const grpc = only(service.spec?.ports, "Service port");
      expect(config.server.listen).toMatchObject({ kind: "tcp", host: "0.0.0.0" });
      expect(portNumber(container, grpc.targetPort)).toBe(grpcPort(config));
      expect(service.spec?.selector).toEqual(pod?.metadata?.labels);
    });

    it("is hardened, probed on the admin port and scraped there", () => {
      const config = containerConfig(documents, deployment, container);
      expectHardened(container);
      expectProbesOnAdminPort(container, config);
      expectScrapeAnnotations(deployment, config);
      expect(pod?.spec?.automountServiceAccountToken).toBe(false);
      expect(deployment.spec?.selector.matchLabels).toEqual(pod?.metadata?.labels);
    });

    it("lets in only the ports the container names, and keeps a replica through drains", () => {
      const policy = find<INetworkPolicy>(documents, "NetworkPolicy", "metrics-access");
      expect(policy.spec?.podSelector.matchLabels).toEqual(pod?.metadata?.labels);
      const ports = policy.spec?.ingress?.flatMap((rule) => rule.ports ?? []) ?? [];
      expect(ports.map((p) => portNumber(container, p.port))).toEqual([50051, 9464]);
      const budget = find<IPodDisruptionBudget>(documents, "PodDisruptionBudget", "metrics-access");
      expect(budget.spec?.selector?.matchLabels).toEqual(pod?.metadata?.labels);
    });
  });
});

describe("the compose example", () => {
  const directory = join(ROOT, "deploy/compose");
  const compose = only(
    parseYaml(readFileSync(join(directory, "compose.yaml"), "utf8"), "compose.yaml", "1.2"),
    "document",
  );
  const services = isRecord(compose) && isRecord(compose.services) ? compose.services : {};
  const service = isRecord(services["metrics-access"]) ? services["metrics-access"] : {};

  function strings(value: unknown): string[] {
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  }

  /** The service's configuration, from its command and the files its volumes mount. */
  function serviceConfig(): Config {
    const files = new Map<string, string>();
    for (const volume of strings(service.volumes)) {
      const [from, to] = volume.split(":");
      if (from?.startsWith("./") && to) files.set(to, readFileSync(join(directory, from), "utf8"));
    }
    const environment = isRecord(service.environment) ? service.environment : {};
    return loadConfig({
      argv: strings(service.command),
      env: {
        ...imageEnvironment(),
        ...Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)])),
      },
      readFile(path) {
        const text = files.get(path);
        if (text === undefined) throw fileNotFound(path);
        return Buffer.from(text);
      },
    });
  }

  it("fits the compose-spec schema", () => {
    expect(composeProblems(compose)).toEqual([]);
    expect(Object.keys(services).sort()).toEqual(["metrics-access", "node-exporter", "prometheus"]);
  });

  it("configures the service to read the compose Prometheus, with ports published on loopback only", () => {
    const config = serviceConfig();
    expect(config.datasource.kind).toBe("prometheus");
    if (config.datasource.kind !== "prometheus") return;
    expect(config.datasource.origin).toBe("http://prometheus:9090");
    expect(service.image).toBe(IMAGE);
    expect(service).toMatchObject({ user: "1000:1000", read_only: true, cap_drop: ["ALL"] });
    for (const [name, definition] of Object.entries(services)) {
      const ports = isRecord(definition) ? strings(definition.ports) : [];
      for (const port of ports) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    expect(strings(service.ports)).toEqual([
      `127.0.0.1:${grpcPort(config)}:${grpcPort(config)}`,
      `127.0.0.1:${config.server.admin?.port}:${config.server.admin?.port}`,
    ]);
  });

  it("has a Prometheus configuration that promtool accepts, scraping the node exporter and the service's /metrics", async () => {
    const file = join(directory, "prometheus.yml");
    const { stdout } = await execFileAsync("promtool", ["check", "config", file]).catch((err: unknown) => {
      throw new Error(
        `promtool check config failed (promtool comes with scripts/install-test-deps.sh): ${String(err)}`,
      );
    });
    expect(stdout).toContain("SUCCESS");
    const prometheus = only(parseYaml(readFileSync(file, "utf8"), "prometheus.yml", "1.2"), "document");
    const jobs =
      isRecord(prometheus) && Array.isArray(prometheus.scrape_configs) ? prometheus.scrape_configs : [];
    const targets = jobs.flatMap((job) =>
      isRecord(job) && Array.isArray(job.static_configs)
        ? job.static_configs.flatMap((c) => (isRecord(c) ? strings(c.targets) : []))
        : [],
    );
    const config = serviceConfig();
    expect(targets).toContain(`metrics-access:${config.server.admin?.port}`);
    expect(targets).toContain("node-exporter:9100");
  });
});

describe("the validators reject broken examples", () => {
  const sidecar = readManifest("deploy/kubernetes/sidecar/deployment.yaml");
  const deployment = only(sidecar, "document");

  /** A deep copy of the sidecar Deployment with one change. */
  function changed(edit: (object: Record<string, unknown>) => void): ManifestDocument {
    const object: KubernetesObject = structuredClone(deployment.object);
    edit(object as Record<string, unknown>);
    return { ...deployment, object };
  }

  function sidecarContainer(object: Record<string, unknown>): Record<string, unknown> {
    const spec = (object.spec as IDeployment["spec"])?.template.spec;
    const container = spec?.initContainers?.[0];
    if (!container) throw new Error("the sidecar container is missing");
    return container as unknown as Record<string, unknown>;
  }

  it("a wrong field type fails the Kubernetes schema", () => {
    const broken = changed((o) => {
      (o.spec as Record<string, unknown>).replicas = "two";
    });
    expect(schemaProblems(broken)).toEqual([expect.stringMatching(/\/spec\/replicas must be integer/)]);
  });

  it("a wrong type deep in a pod template fails the Kubernetes schema", () => {
    const broken = changed((o) => {
      sidecarContainer(o).securityContext = { runAsNonRoot: "yes please" };
    });
    expect(schemaProblems(broken).join("\n")).toMatch(/securityContext\/runAsNonRoot must be boolean/);
  });

  it("a misspelt field fails the unknown-field check, with its path", () => {
    const broken = changed((o) => {
      const context = sidecarContainer(o).securityContext as Record<string, unknown>;
      context.readOnlyRootFileSystem = context.readOnlyRootFilesystem;
      delete context.readOnlyRootFilesystem;
    });
    expect(schemaProblems(broken)).toEqual([]);
    expect(unknownFieldProblems([broken])).toEqual([
      expect.stringMatching(
        /initContainers\[0\]\.securityContext\.readOnlyRootFileSystem: .*'"readOnlyRootFileSystem"' does not exist/,
      ),
    ]);
  });

  it("a privileged, root or escalating container fails the restricted checks", () => {
    const broken = changed((o) => {
      sidecarContainer(o).securityContext = { privileged: true, runAsUser: 0, runAsNonRoot: false };
    });
    expect(restrictedProblems(broken.object as unknown as IDeployment)).toEqual([
      "container metrics-access: privileged",
      "container metrics-access: allowPrivilegeEscalation is not false",
      "container metrics-access: capabilities do not drop ALL",
      "container metrics-access: runAsNonRoot is not true",
      "container metrics-access: runs as uid 0",
    ]);
  });

  it("a kind the test does not know is refused, not passed", () => {
    const unknown: ManifestDocument = { ...deployment, object: { apiVersion: "v1", kind: "Pod" } };
    expect(schemaProblems(unknown)).toEqual([expect.stringMatching(/not a kind this test knows/)]);
    expect(unknownFieldProblems([unknown])).toEqual([expect.stringMatching(/not a kind this test knows/)]);
  });

  it("YAML with a duplicate key is refused, and 0440 reads as octal, as Kubernetes reads it", () => {
    expect(() => parseYaml("a: 1\na: 2\n", "dup.yaml", "1.1")).toThrow(/dup\.yaml: .*unique/i);
    expect(parseYaml("mode: 0440\n", "mode.yaml", "1.1")).toEqual([{ mode: 0o440 }]);
  });

  it("a wrong type and an unknown key fail the compose-spec schema", () => {
    const wrongType = { services: { s: { image: "x", cap_drop: "ALL" } } };
    expect(composeProblems(wrongType).join("\n")).toMatch(/\/services\/s\/cap_drop must be array/);
    const unknownKey = { services: { s: { image: "x", restart_policy: "always" } } };
    expect(composeProblems(unknownKey).join("\n")).toMatch(
      /must NOT have additional properties.*restart_policy/,
    );
  });

  it("a configuration the service refuses fails the loader", () => {
    const documents = objectsIn("deploy/kubernetes/sidecar");
    const configMap = find<IConfigMap>(documents, "ConfigMap", "decision-engine-metrics-access");
    const ini = configMap.data?.["metrics-access.conf"] ?? "";
    expect(() =>
      loadConfig({
        argv: ["--config-file", "c.conf"],
        env: {},
        readFile: () => Buffer.from(ini.replace("listen = 127.0.0.1:50051", "listen = 127.0.0.1")),
      }),
    ).toThrow(/\[metrics_access\] listen: must be host:port/);
  });
});
