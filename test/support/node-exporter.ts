/**
 * A real node exporter (Debian's `prometheus-node-exporter`) on a free 127.0.0.1 port: the one live
 * scrape target startPrometheus (prometheus.ts) adds next to the fleet's placeholder targets.
 */
import { httpOk, type RunningProcess, spawnLogged, waitUntilOrStop, withPortRetry } from "./processes.js";

/** A running node exporter. */
export interface RunningNodeExporter {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT`, a scrape target address. */
  readonly address: string;
  readonly port: number;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

/** Options of {@link startNodeExporter}. */
export interface NodeExporterOptions {
  /** Directory for `<name>.log`. */
  readonly logDir: string;
  /** Log file name without `.log`, default `node-exporter`. */
  readonly name?: string;
  readonly timeoutMs?: number;
}

/** Starts `prometheus-node-exporter` on a free 127.0.0.1 port and waits for `/metrics`. */
export async function startNodeExporter(options: NodeExporterOptions): Promise<RunningNodeExporter> {
  return await withPortRetry(async (port) => {
    const proc = await spawnLogged({
      name: options.name ?? "node-exporter",
      command: "prometheus-node-exporter",
      // Without systemd every scrape would log a failed dbus connection.
      args: [`--web.listen-address=127.0.0.1:${port}`, "--no-collector.systemd"],
      logDir: options.logDir,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntilOrStop("node exporter /metrics", () => httpOk(`${url}/metrics`), {
      timeoutMs: options.timeoutMs ?? 15_000,
      process: proc,
    });
    return { url, address: `127.0.0.1:${port}`, port, process: proc, stop: () => proc.stop() };
  });
}
