/**
 * Number formatting for the demo's plain-text output.
 */

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A count with thousands separators: 1,234. */
export function count(value: number): string {
  return grouped.format(value);
}

/** A duration: two decimals below 10 ms, one below 100 ms, whole ms above. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) < 10) return `${value.toFixed(2)} ms`;
  if (Math.abs(value) < 100) return `${value.toFixed(1)} ms`;
  return `${grouped.format(value)} ms`;
}

/** Seconds since the start, fixed width so that lines align: "[ 12.3s]". */
export function stamp(elapsedMs: number): string {
  return `[${(Math.max(0, elapsedMs) / 1_000).toFixed(1).padStart(5)}s]`;
}
