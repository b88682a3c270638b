/**
 * The real Keystone and Aetos in front of the bench Prometheus, started with the test support's
 * starters in global-setup.ts's order: Keystone (while Prometheus backfills), then provisioning and
 * Aetos together, Aetos's catalog URL known in advance.
 */
import { join } from "node:path";
import type { Aetos } from "../test/support/aetos.js";
import { startAetos } from "../test/support/aetos.js";
import { aetosPasswordOptions } from "../test/support/aetos-harness.js";
import { type Keystone, startKeystone } from "../test/support/keystone.js";
import { AETOS_SERVICE_USER, provisionKeystone } from "../test/support/keystone-provision.js";
import { freePort } from "../test/support/processes.js";
import type { ServiceOptions } from "./service.js";

export interface AetosStack {
  readonly keystone: Keystone;
  readonly aetos: Aetos;
  /** The service's options for the Aetos datasource, authenticated as `watcher` (role service). */
  readonly serviceOptions: ServiceOptions;
  stop(): Promise<void>;
}

/** Keystone's start is independent of Prometheus: run it while Prometheus backfills. */
export async function startBenchKeystone(workDir: string): Promise<Keystone> {
  return await startKeystone({ workDir: join(workDir, "keystone") });
}

export async function startBenchAetos(
  workDir: string,
  keystone: Keystone,
  prometheusPort: number,
): Promise<AetosStack> {
  const aetosPort = await freePort();
  const aetosUrl = `http://127.0.0.1:${aetosPort}/prometheus`;
  const [provisioning, aetos] = await Promise.all([
    provisionKeystone(keystone, {
      aetosUrls: {
        RegionOne: { public: aetosUrl, internal: aetosUrl },
        RegionTwo: { public: aetosUrl, internal: aetosUrl },
      },
    }),
    startAetos({
      workDir: join(workDir, "aetos"),
      keystone: { url: keystone.url, ...AETOS_SERVICE_USER },
      prometheusHost: "127.0.0.1",
      prometheusPort,
      port: aetosPort,
      // keystonemiddleware's own default (the starter's 20 s suits revocation tests): a deployed
      // Aetos does not ask Keystone again for the same token every 20 s in the middle of a sweep.
      tokenCacheTimeSec: 300,
    }),
  ]);
  return {
    keystone,
    aetos,
    serviceOptions: aetosPasswordOptions(keystone.url, provisioning.watcher, {
      "aetos_client.region_name": "RegionOne",
    }),
    async stop() {
      await Promise.allSettled([aetos.stop(), keystone.stop()]);
    },
  };
}
