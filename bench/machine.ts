/** Facts about the machine and the components, for the report: what the numbers were measured on. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

export interface MachineFacts {
  readonly date: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly prometheus: string;
  readonly grpcio: string;
  readonly requests: string;
}

function firstLine(command: string, args: readonly string[]): string {
  try {
    const out = execFileSync(command, [...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return out.split("\n")[0]?.trim() ?? "?";
  } catch {
    return "?";
  }
}

export function machineFacts(): MachineFacts {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  return {
    date: new Date().toISOString().slice(0, 10),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    node: process.version,
    prometheus: firstLine("prometheus", ["--version"]),
    grpcio: firstLine("/usr/bin/python3", ["-c", "import grpc; print(grpc.__version__)"]),
    requests: firstLine("/usr/bin/python3", ["-c", "import requests; print(requests.__version__)"]),
  };
}

/** /proc/loadavg's 1, 5 and 15 minute averages. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
