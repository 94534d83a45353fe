/**
 * The summary's figures, computed from the journal: pure functions, no I/O.
 */
import type { Acquisition } from './journal.js';

/** Nearest-rank percentile; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export function waitTimes(acquisitions: readonly Acquisition[]): number[] {
  return acquisitions.map((a) => a.acquiredAt - a.requestedAt);
}

export interface Handoffs {
  /** Ms from a release by one process to the next acquisition, by another process. */
  readonly toOtherProcess: number[];
  /** Times the releasing process itself acquired the lock next. */
  readonly selfReacquisitions: number;
}

/** Looks at each released acquisition and the one that followed it (by fencing token). */
export function handoffs(acquisitions: readonly Acquisition[]): Handoffs {
  const byFence = [...acquisitions].sort((a, b) => a.fence - b.fence);
  const toOtherProcess: number[] = [];
  let selfReacquisitions = 0;
  for (let i = 1; i < byFence.length; i++) {
    const previous = byFence[i - 1];
    const next = byFence[i];
    if (!previous || !next) continue;
    if (previous.outcome !== 'released' || previous.leftAt === undefined) continue;
    if (next.worker === previous.worker) selfReacquisitions++;
    else toOtherProcess.push(next.acquiredAt - previous.leftAt);
  }
  return { toOtherProcess, selfReacquisitions };
}

export interface Overlap {
  /** The holder that was still validly inside the critical section... */
  readonly earlier: Acquisition;
  /** ...when this one acquired the lock. */
  readonly later: Acquisition;
  /** How long before the earlier holder's valid stay ended the later one entered. */
  readonly byMs: number;
}

/**
 * An overlap is an acquisition made while an earlier holder was still inside the critical section
 * (it had not started its release, nor died) with its lock still valid. A holder that outstays its
 * lock (paused past its ttl) causes no overlap: its late write is stale, and fencing refuses it.
 * One sweep in acquisition order, keeping the earlier holder whose valid stay ends last.
 */
export function overlaps(acquisitions: readonly Acquisition[]): Overlap[] {
  const byStart = [...acquisitions].sort((a, b) => a.acquiredAt - b.acquiredAt);
  const found: Overlap[] = [];
  let longest: { holder: Acquisition; end: number } | undefined;
  for (const later of byStart) {
    if (longest && later.acquiredAt < longest.end) {
      found.push({ earlier: longest.holder, later, byMs: longest.end - later.acquiredAt });
    }
    const end = Math.min(later.leftAt ?? Number.POSITIVE_INFINITY, later.validUntil);
    if (!longest || end > longest.end) longest = { holder: later, end };
  }
  return found;
}

/** The first acquisition after the one holding `fence`, i.e. the next holder. */
export function nextHolder(
  acquisitions: readonly Acquisition[],
  fence: number,
): Acquisition | undefined {
  let next: Acquisition | undefined;
  for (const acquisition of acquisitions) {
    if (acquisition.fence > fence && (!next || acquisition.fence < next.fence)) next = acquisition;
  }
  return next;
}
