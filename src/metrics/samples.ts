import type { Sample } from "../datasource/datasource.js";

/**
 * Watcher takes result[0] in whatever order Prometheus sends; we take the series whose label set
 * sorts first, so the same data always gives the same answer.
 */
export function firstByLabels(samples: readonly Sample[]): Sample | undefined {
  let best: Sample | undefined;
  let bestKey: [string, string][] = [];
  for (const sample of samples) {
    const key = sortedPairs(sample.labels);
    if (best === undefined || compareLabelSets(key, bestKey) < 0) {
      best = sample;
      bestKey = key;
    }
  }
  return best;
}

function sortedPairs(labels: Readonly<Record<string, string>>): [string, string][] {
  return Object.keys(labels)
    .sort()
    .map((name) => [name, labels[name] ?? ""]);
}

/** Prometheus's order of label sets: pair by pair, name then value; a prefix sorts first. */
function compareLabelSets(a: readonly [string, string][], b: readonly [string, string][]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [an, av] = a[i] ?? ["", ""];
    const [bn, bv] = b[i] ?? ["", ""];
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return a.length - b.length;
}

/** Prometheus's sample strings: decimals, "+Inf", "-Inf", "NaN". NaN is "no data". */
export function parseSampleValue(text: string): number | undefined {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  return Number.isNaN(value) || text.trim() === "" ? undefined : value;
}
