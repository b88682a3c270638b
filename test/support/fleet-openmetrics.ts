/**
 * The sample fleet's series (fleet-series.ts) as OpenMetrics text, what `promtool tsdb
 * create-blocks-from openmetrics` backfills into a fresh TSDB. Pure functions.
 */
import { checkWindow, type Fleet, type SampleWindow } from "./fleet.js";
import { fleetSeries, gridRange, type Labels } from "./fleet-series.js";

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatLabels(labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabelValue(labels[k] ?? "")}"`);
  return `{${parts.join(",")}}`;
}

// JavaScript's shortest round-trip form parses back (in Go too) to the very same float64, which is
// what lets expectedValue() reproduce Prometheus's arithmetic bit for bit.
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/**
 * The fleet's samples in the window as an OpenMetrics text for `promtool tsdb create-blocks-from
 * openmetrics`: families contiguous, each series' samples in increasing time order, timestamps in
 * whole SECONDS (milliseconds would be taken as seconds and land in the year ~58000), and the
 * mandatory final `# EOF`.
 */
export function renderOpenMetrics(fleet: Fleet, window: SampleWindow): string {
  checkWindow(window);
  const lines: string[] = [];
  let family = "";
  for (const s of fleetSeries(fleet, window)) {
    if (s.family !== family) {
      family = s.family;
      lines.push(`# TYPE ${s.family} ${s.type}`);
    }
    const head = `${s.name}${formatLabels(s.labels)} `;
    const [first, last] = gridRange(s.stepSec, window, -Infinity, Infinity);
    for (let k = first; k <= last; k++) {
      const tSec = k * s.stepSec;
      lines.push(`${head}${formatValue(s.valueAt(tSec, k))} ${tSec}`);
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}
