/**
 * Turns the contenders' raw timestamps into the contended scenario's figures. All times are
 * CLOCK_MONOTONIC µs taken in the worker processes, so acquisitions from every process can be put
 * in one order and a release in one process matched with the acquire it enabled in another.
 */
import type { ContendResult } from '../protocol.js';
import { round, summarize } from '../stats.js';

export interface ContendedFigures {
  readonly acquisitions: number;
  readonly acquisitionsPerSec: number;
  readonly waitP50Ms: number;
  readonly waitP99Ms: number;
  readonly waitMaxMs: number;
  /** From the start of a release to the next acquisition, when that one is another process's. */
  readonly handoffP50Ms: number;
  readonly handoffP99Ms: number;
  /** The same, counted from the moment the releasing process had its release reply. */
  readonly handoffFromReplyP50Ms: number;
  /** Share of acquisitions that followed the same process's own release. */
  readonly selfShare: number;
  readonly perContenderMin: number;
  readonly perContenderMax: number;
  /** perContenderMin / perContenderMax. */
  readonly fairness: number;
  /** Highest occupancy counter value seen: 1 means never two holders at once. */
  readonly maxHolders: number;
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  /** For libraries with fencing tokens: true if they strictly increase in acquisition order. */
  readonly fencingIncreasing: boolean | undefined;
}

interface Acquisition {
  readonly worker: number;
  readonly want: number;
  readonly acquired: number;
  readonly releaseStart: number;
  readonly releaseEnd: number;
  readonly fence: number;
}

export function analyzeContended(
  results: readonly ContendResult[],
  windowUs: number,
): ContendedFigures {
  const all: Acquisition[] = [];
  results.forEach((result, worker) => {
    for (let i = 0; i < result.acquiredUs.length; i++) {
      all.push({
        worker,
        want: result.wantUs[i] ?? 0,
        acquired: result.acquiredUs[i] ?? 0,
        releaseStart: result.releaseStartUs[i] ?? 0,
        releaseEnd: result.releaseEndUs[i] ?? 0,
        fence: result.fence[i] ?? -1,
      });
    }
  });
  all.sort((a, b) => a.acquired - b.acquired);

  const handoffs: number[] = [];
  const handoffsFromReply: number[] = [];
  let selfFollows = 0;
  let fencingIncreasing: boolean | undefined;
  for (let i = 1; i < all.length; i++) {
    const previous = all[i - 1] as Acquisition;
    const next = all[i] as Acquisition;
    if (next.worker === previous.worker) selfFollows++;
    else {
      handoffs.push(next.acquired - previous.releaseStart);
      handoffsFromReply.push(next.acquired - previous.releaseEnd);
    }
    if (next.fence >= 0 && previous.fence >= 0) {
      fencingIncreasing = (fencingIncreasing ?? true) && next.fence > previous.fence;
    }
  }
  const counts = results.map((result) => result.acquiredUs.length);
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  const waits = summarize(
    all.map((a) => a.acquired - a.want),
    1000,
  );
  const handoff = summarize(handoffs, 1000);
  const lastError = results.find((result) => result.lastError)?.lastError;
  return {
    acquisitions: all.length,
    acquisitionsPerSec: round(all.length / (windowUs / 1e6)),
    waitP50Ms: round(waits.p50),
    waitP99Ms: round(waits.p99),
    waitMaxMs: round(waits.max),
    handoffP50Ms: round(handoff.p50),
    handoffP99Ms: round(handoff.p99),
    handoffFromReplyP50Ms: round(summarize(handoffsFromReply, 1000).p50),
    selfShare: round(all.length > 1 ? selfFollows / (all.length - 1) : Number.NaN),
    perContenderMin: min,
    perContenderMax: max,
    fairness: round(max > 0 ? min / max : 0),
    maxHolders: Math.max(...results.map((result) => result.maxOccupancy)),
    giveUps: results.reduce((total, result) => total + result.giveUps, 0),
    errors: results.reduce((total, result) => total + result.errors, 0),
    lastError,
    fencingIncreasing,
  };
}
