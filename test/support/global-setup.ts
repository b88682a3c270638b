import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startAetos } from "./aetos.js";
import { startKeystone } from "./keystone.js";
import { AETOS_SERVICE_USER, type ProvisionedUser, provisionKeystone } from "./keystone-provision.js";
import { freePort } from "./processes.js";
import { startPrometheus } from "./prometheus.js";

/** The shared real components, as plain data the test files receive through `inject("stack")`. */
export interface Stack {
  readonly workDir: string;
  readonly prometheus: {
    readonly url: string;
    readonly host: string;
    readonly port: number;
    readonly startSec: number;
  };
  readonly keystoneUrl: string;
  /** The catalog URL of Aetos in RegionOne (RegionTwo registers the same Aetos as localhost). */
  readonly aetosUrl: string;
  readonly aetosRegionTwoUrl: string;
  readonly watcher: ProvisionedUser;
  readonly readerA: ProvisionedUser;
  readonly watcherNoCatalog: ProvisionedUser;
  readonly appCredential: { readonly id: string; readonly secret: string; readonly name: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    stack: Stack;
  }
}

/**
 * Starts, once for every system test file: a real Prometheus 2.42 backfilled with the sample fleet
 * and scraping a real node exporter, a real Keystone (sqlite, WAL) provisioned with the catalog and
 * users, and the real Aetos under /prometheus in front of that Prometheus. A component that cannot
 * start fails the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workDir = join(process.cwd(), ".run", `stack-${process.pid}`);
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const started = Date.now();
  const aetosPort = await freePort();
  const aetosUrl = `http://127.0.0.1:${aetosPort}/prometheus`;
  const aetosRegionTwoUrl = `http://localhost:${aetosPort}/prometheus`;
  const [prometheus, keystone] = await Promise.all([
    startPrometheus({ baseDir: workDir }),
    // Every test file authenticates here, many at once: with two workers a new authentication once
    // waited out the service's 30 s Keystone timeout under the full suite.
    startKeystone({ workDir: join(workDir, "keystone"), processes: 4 }),
  ]);
  const [provisioning, aetos] = await Promise.all([
    provisionKeystone(keystone, {
      aetosUrls: {
        RegionOne: { public: aetosUrl, internal: aetosUrl },
        RegionTwo: { public: aetosRegionTwoUrl, internal: aetosRegionTwoUrl },
      },
    }),
    startAetos({
      workDir: join(workDir, "aetos"),
      keystone: { url: keystone.url, ...AETOS_SERVICE_USER },
      prometheusHost: "127.0.0.1",
      prometheusPort: prometheus.port,
      port: aetosPort,
    }),
  ]);
  console.log(
    `stack ready in ${Date.now() - started} ms: Prometheus ${prometheus.url}, Keystone ${keystone.url}, Aetos ${aetos.version} ${aetos.url}`,
  );
  project.provide("stack", {
    workDir,
    prometheus: {
      url: prometheus.url,
      host: "127.0.0.1",
      port: prometheus.port,
      startSec: prometheus.startSec,
    },
    keystoneUrl: keystone.url,
    aetosUrl,
    aetosRegionTwoUrl,
    watcher: provisioning.watcher,
    readerA: provisioning.readerA,
    watcherNoCatalog: provisioning.watcherNoCatalog,
    appCredential: {
      id: provisioning.appCredential.id,
      secret: provisioning.appCredential.secret,
      name: provisioning.appCredential.name,
    },
  });
  return async () => {
    await Promise.allSettled([aetos.stop(), keystone.stop(), prometheus.stop()]);
    await rm(workDir, { recursive: true, force: true });
  };
}
