/**
 * The real libvirt exporter (Debian's `prometheus-libvirt-exporter` 0.2.0, kumina/libvirt_exporter)
 * against libvirt's built-in test driver (`test:///default`: one running domain, no daemon), on a
 * free 127.0.0.1 port: the source of truth for the series names, types, labels and units the
 * fleet backfills in its place.
 */
import { httpOk, type RunningProcess, spawnLogged, waitUntilOrStop, withPortRetry } from "./processes.js";

export interface RunningLibvirtExporter {
  readonly url: string;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

export async function startLibvirtExporter(options: { logDir: string }): Promise<RunningLibvirtExporter> {
  return await withPortRetry(async (port) => {
    const proc = await spawnLogged({
      name: "libvirt-exporter",
      command: "prometheus-libvirt-exporter",
      args: ["--libvirt.uri=test:///default", `--web.listen-address=127.0.0.1:${port}`],
      logDir: options.logDir,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntilOrStop("libvirt exporter /metrics", () => httpOk(`${url}/metrics`), {
      timeoutMs: 15_000,
      process: proc,
    });
    return { url, process: proc, stop: () => proc.stop() };
  });
}
