/** Small descriptive statistics over samples. */

/** The p-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function sortedCopy(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** p50, p99 and max of `samples`, divided by `scale` (e.g. 1000 for µs → ms). */
export function summarize(samples: readonly number[], scale = 1): Summary {
  const sorted = sortedCopy(samples);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50) / scale,
    p99: percentile(sorted, 99) / scale,
    max: (sorted[sorted.length - 1] ?? Number.NaN) / scale,
  };
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** Rounds for the report: 3 significant digits, integers as they are. */
/** Divides by `count` (NaN when there is nothing to divide by) and rounds: a figure per item. */
export function per(count: number): (value: number) => number {
  return (value) => round(count > 0 ? value / count : Number.NaN);
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  if (Math.abs(value) >= 10 ** digits) return Math.round(value);
  return Number(value.toPrecision(digits));
}
