/**
 * The end-of-run summary: the figures, and the invariants that decide the exit code.
 */
import { handoffs, nextHolder, overlaps, percentile, waitTimes } from './analysis.js';
import type { Fault, Pause } from './faults.js';
import { count, ms } from './format.js';
import type { Journal } from './journal.js';
import type { FencedLedger } from './ledger.js';

export interface RunFacts {
  readonly journal: Journal;
  readonly ledger: FencedLedger;
  readonly paused: Pause | undefined;
  readonly killed: Fault | undefined;
  readonly ttlMs: number;
  readonly workers: number;
  readonly ranForMs: number;
  /** Workers, other than the one killed on purpose, whose process did not exit with code 0. */
  readonly badExits: readonly string[];
}

export interface Summary {
  readonly lines: readonly string[];
  /** Invariants that do not hold; empty when the run proves what it should. */
  readonly failures: readonly string[];
}

const LABEL_WIDTH = 24;

export function summarize(facts: RunFacts): Summary {
  const { journal, ledger, paused, killed, ttlMs } = facts;
  const acquisitions = journal.acquisitions;
  const lines: string[] = [];
  const failures: string[] = [];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(LABEL_WIDTH)}${text}`);

  const perWorker = new Map<number, number>();
  for (const a of acquisitions) perWorker.set(a.worker, (perWorker.get(a.worker) ?? 0) + 1);
  const rate = acquisitions.length / (facts.ranForMs / 1_000);
  const shares = perWorker.size > 0 ? [...perWorker.values()] : [0];
  row(
    'acquisitions',
    `${count(acquisitions.length)} (${rate.toFixed(0)}/s; per worker ${count(Math.min(...shares))} to ${count(Math.max(...shares))})`,
  );
  if (acquisitions.length === 0) failures.push('no worker ever acquired the lock');

  const waits = waitTimes(acquisitions);
  row('wait for the lock', `p50 ${ms(percentile(waits, 50))}, p99 ${ms(percentile(waits, 99))}`);

  const handed = handoffs(acquisitions);
  row(
    'handoff',
    `p50 ${ms(percentile(handed.toOtherProcess, 50))}, p99 ${ms(percentile(handed.toOtherProcess, 99))} from a release to another process acquiring (${count(handed.toOtherProcess.length)} times; ${count(handed.selfReacquisitions)} self re-acquisitions)`,
  );

  const found = overlaps(acquisitions);
  row('overlaps', `${found.length} (a holder entered while an earlier holder's lock was valid)`);
  for (const overlap of found.slice(0, 5)) {
    failures.push(
      `overlap: w${overlap.later.worker} (token ${overlap.later.fence}) entered ${ms(overlap.byMs)} before w${overlap.earlier.worker} (token ${overlap.earlier.fence}) left or lost its lock`,
    );
  }

  const refused = ledger.refusedWrites;
  row('stale writes refused', `${refused.length} by fencing`);
  for (const write of refused) {
    const fromPause = paused && write.worker === paused.worker && write.fence === paused.fence;
    lines.push(
      `  ${''.padEnd(LABEL_WIDTH)}w${write.worker}, token ${write.fence} < ${write.highestFence} seen${fromPause ? ', after SIGCONT' : ''}; its lock.signal said: ${write.lostReason ?? 'nothing (still held)'}`,
    );
  }
  if (!paused) {
    failures.push('no holder was paused (no worker read the ledger after the pause time)');
  } else if (!refused.some((w) => w.worker === paused.worker && w.fence === paused.fence)) {
    failures.push(
      `the paused holder's late write (w${paused.worker}, token ${paused.fence}) was not refused`,
    );
  }

  if (paused) {
    const next = nextHolder(acquisitions, paused.fence);
    const pausedHold = acquisitions.find((a) => a.fence === paused.fence);
    row(
      'takeover after pause',
      next && pausedHold
        ? `w${next.worker} acquired ${ms(next.acquiredAt - paused.at)} after SIGSTOP of w${paused.worker}, ${ms(next.acquiredAt - pausedHold.validUntil)} after w${paused.worker}'s lock validity ended (ttl ${ms(ttlMs)}); w${paused.worker} stayed stopped ${ms((paused.resumedAt ?? paused.at) - paused.at)}`
        : 'nobody acquired the lock after the pause',
    );
    if (!next) failures.push('nobody acquired the lock after the paused holder lost it');
  }

  if (!killed) {
    failures.push('no holder was killed (no worker read the ledger after the kill time)');
  } else {
    const next = nextHolder(acquisitions, killed.fence);
    row(
      'recovery from the kill',
      next
        ? `${ms(next.acquiredAt - killed.at)} from SIGKILL of w${killed.worker} to w${next.worker} acquiring`
        : 'nobody acquired the lock after the kill',
    );
    if (!next) failures.push('nobody acquired the lock after its holder was killed');
  }

  row(
    'ledger',
    `${count(ledger.acceptedWrites)} writes accepted, value ${count(ledger.value)}${ledger.value === ledger.acceptedWrites ? ' (no lost update)' : ''}`,
  );
  if (ledger.value !== ledger.acceptedWrites) {
    failures.push(
      `lost updates: the ledger holds ${ledger.value} after ${ledger.acceptedWrites} accepted increments`,
    );
  }

  if (journal.problems.length > 0) {
    row('worker problems', `${journal.problems.length} (first: ${journal.problems[0]?.message})`);
  }
  for (const exit of facts.badExits) failures.push(exit);

  return { lines, failures };
}
