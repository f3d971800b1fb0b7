import * as hdr from "hdr-histogram-js";

/** An HDR histogram of durations, recorded in microseconds (3 significant digits). */
export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Records a duration given in milliseconds (fractional). */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1_000)));
}

/** Percentiles of one run, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number) => us / 1_000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** Median of a list (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The median over runs of every percentile of their summaries. */
export function medianSummary(runs: readonly LatencySummary[]): LatencySummary {
  const pick = (f: (s: LatencySummary) => number) => median(runs.map(f));
  return {
    count: pick((s) => s.count),
    p50: pick((s) => s.p50),
    p90: pick((s) => s.p90),
    p99: pick((s) => s.p99),
    max: pick((s) => s.max),
    mean: pick((s) => s.mean),
  };
}
