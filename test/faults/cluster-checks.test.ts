import { describe, expect, it } from 'vitest';
import type { Attempt, Reconstruction, WorkerTimeline } from './attempts.js';
import { gapsBetweenHolders, longestGapAround } from './cluster-checks.js';
import type { WorkerLockSettings } from './events.js';

const SETTINGS: WorkerLockSettings = {
  ttlMs: 1_000,
  refreshMs: 300,
  commandTimeoutMs: 500,
  waitMs: 3_000,
  driftFactor: 0.01,
};

/** A hold from `okAt` to its release at `releasedAt` (validity far beyond), or a failed try. */
function hold(worker: string, okAt: number | undefined, releasedAt?: number): Attempt {
  return {
    worker,
    attempt: `${worker}:${okAt ?? 'failed'}`,
    settings: SETTINGS,
    capacity: 1,
    weight: 1,
    invokeAt: (okAt ?? 0) - 1,
    ...(okAt === undefined ? { failAt: 0 } : { okAt, deadlineAt: okAt + 10_000 }),
    ...(releasedAt === undefined ? {} : { releaseInvokeAt: releasedAt }),
    extends: [],
    checks: [],
    claims: [],
    steps: [],
  };
}

function rebuilt(attempts: Attempt[], killed: Record<string, number> = {}): Reconstruction {
  const workers = new Map<string, WorkerTimeline>();
  for (const [worker, killedAt] of Object.entries(killed)) {
    workers.set(worker, {
      worker,
      settings: SETTINGS,
      startedAt: 0,
      stoppedAt: undefined,
      frozen: [],
      killedAt,
      lag: [],
      abandonedGrants: 0,
    });
  }
  return { attempts, workers };
}

describe('fault suite › Cluster figures › gaps between holders', () => {
  it('measures from the end of the claims so far to the next grant, ignoring failed tries', () => {
    const gaps = gapsBetweenHolders(
      rebuilt([
        hold('w1', 100, 300),
        hold('w2', 250, 400), // overlaps w1: no gap between them
        hold('w3', undefined),
        hold('w1', 1_400, 1_500),
        hold('w2', 1_520, 2_000),
      ]),
    );
    expect(gaps).toEqual([
      { from: 400, to: 1_400 },
      { from: 1_500, to: 1_520 },
    ]);
  });

  it('ends a killed holder’s claim at its death, and picks the longest gap touching a span', () => {
    const gaps = gapsBetweenHolders(
      rebuilt([hold('w1', 100, 5_000), hold('w2', 2_600, 2_700), hold('w3', 2_720, 2_800)], {
        w1: 500,
      }),
    );
    expect(gaps).toEqual([
      { from: 500, to: 2_600 },
      { from: 2_700, to: 2_720 },
    ]);
    expect(longestGapAround(gaps, { from: 400, to: 2_500, what: 'kill' })).toBe(2_100);
    expect(longestGapAround(gaps, { from: 2_650, to: 2_750, what: 'migration' })).toBe(20);
    expect(longestGapAround(gaps, { from: 3_000, to: 3_100, what: 'later' })).toBe(0);
  });
});
