/**
 * Runs the real libvirt exporter once against libvirt's test driver and holds the fleet's backfilled
 * libvirt series to what it publishes: the same names, types, units and labels (the fleet adds only
 * the job and instance labels a Prometheus scrape adds).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fleetWindow, SAMPLE_FLEET } from "../support/fleet.js";
import { fleetSeries } from "../support/fleet-series.js";
import { type RunningLibvirtExporter, startLibvirtExporter } from "../support/libvirt-exporter.js";

const stack = inject("stack");
let exporter: RunningLibvirtExporter;
let dir: string;
let exposition: string;

beforeAll(async () => {
  dir = await mkdtemp(join(stack.workDir, "libvirt-"));
  exporter = await startLibvirtExporter({ logDir: dir });
  exposition = await (await fetch(`${exporter.url}/metrics`)).text();
});
afterAll(async () => {
  await exporter?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** TYPE, HELP and the label names of the first sample of a family in the exposition text. */
interface Family {
  readonly type: string | undefined;
  readonly help: string | undefined;
  readonly labels: string[] | undefined;
  readonly value: number | undefined;
}

function family(name: string): Family {
  const type = new RegExp(`^# TYPE ${name} (\\w+)$`, "m").exec(exposition)?.[1];
  const help = new RegExp(`^# HELP ${name} (.+)$`, "m").exec(exposition)?.[1];
  const sample = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "m").exec(exposition);
  const labels = sample?.[1]
    ?.split(/,(?=[a-zA-Z_]+=")/)
    .map((pair) => pair.slice(0, pair.indexOf("=")))
    .sort();
  return { type, help, labels, value: sample ? Number(sample[2]) : undefined };
}

describe("the fleet's libvirt series match Debian's prometheus-libvirt-exporter 0.2.0", () => {
  const backfilled = fleetSeries(SAMPLE_FLEET, fleetWindow(stack.prometheus.startSec)).filter((s) =>
    s.name.startsWith("libvirt_"),
  );

  it("reports the test driver's domain", () => {
    expect(exposition).toMatch(/^libvirt_up 1$/m);
    expect(family("libvirt_domain_info_virtual_cpus").value).toBe(2);
  });

  it.each([
    ["libvirt_domain_info_cpu_time_seconds_total", "counter", /seconds/],
    ["libvirt_domain_info_memory_usage_bytes", "gauge", /bytes/],
  ])("%s: the same type, unit and labels", (name, type, unit) => {
    const real = family(name);
    expect(real.type).toBe(type);
    expect(real.help).toMatch(unit);
    expect(real.labels).toEqual(["domain", "uuid"]);
    const ours = backfilled.filter((s) => s.name === name);
    expect(ours.length).toBeGreaterThan(0);
    for (const series of ours) {
      expect(series.type).toBe(type);
      const scrapeLabels = new Set(["job", "instance"]);
      expect(
        Object.keys(series.labels)
          .filter((l) => !scrapeLabels.has(l))
          .sort(),
      ).toEqual(real.labels);
    }
  });

  it("gives memory in bytes, as the fleet's libvirt series do (a multiple of 1 KiB)", () => {
    const memory = family("libvirt_domain_info_memory_usage_bytes").value ?? Number.NaN;
    expect(memory % 1024).toBe(0);
    expect(memory).toBeGreaterThanOrEqual(2 ** 20);
  });
});
