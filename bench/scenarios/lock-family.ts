/**
 * Scenario 7, the lock family: the kinds that have no scenario of their own, contended as in
 * scenario 2 (C processes on one name, hold 1 ms, straight back). latchkey's reentrant lock (each
 * hold entered a second time by the process's owner id), its election (campaign, lead 1 ms,
 * resign) and its multi-lock (2 of 4 names per hold, drawn per process) run against latchkey's
 * mutex on the same adapter; the multi-lock also against the peers that lock several keys at
 * once (node-redlock and its fork, redlock-universal's batch, with their default retries). For an
 * election "release→other holder" is the hand-over: from a resign to the next leader's campaign
 * resolving in another process. For each C the runs go one after another, rotating the order,
 * each in a fresh window. The checker counts holders per name (a multi-lock hold counts on each
 * of its names): above 1 is two holders of a name.
 */
import type { BenchContext } from '../context.js';
import { rotated } from '../context.js';
import { FAMILY_LIBRARY_IDS, type LibraryId, MULTI_LIBRARY_IDS } from '../libs/index.js';
import type { FamilyKind } from '../protocol.js';
import { totalCalls } from '../redis-stats.js';
import { per } from '../stats.js';
import { contendOnce } from './contended.js';
import { analyzeContended, type ContendedFigures } from './contended-analysis.js';

/** What a run takes each turn: the mutex (the baseline) or one of the other kinds. */
export type FamilyLock = 'mutex' | FamilyKind;

export interface FamilyResult extends ContendedFigures {
  readonly lib: LibraryId;
  readonly lock: FamilyLock;
  readonly contenders: number;
  /** The multi-lock's names, and how many each hold takes (the other kinds: one name). */
  readonly names: number;
  readonly pick: number;
  /** All commands the lock server ran per acquisition, including those scripts called. */
  readonly commandsPerAcquisition: number;
  readonly redisCpuUsPerAcquisition: number;
}

const KINDS: readonly FamilyLock[] = ['mutex', 'reentrant', 'election', 'multi'];

/** The runs of one C: every kind on latchkey's adapters, the multi-lock on the peers too. */
export function familyRuns(libs: readonly LibraryId[]): { lib: LibraryId; lock: FamilyLock }[] {
  return libs.flatMap((lib) => {
    if (FAMILY_LIBRARY_IDS.includes(lib)) return KINDS.map((lock) => ({ lib, lock }));
    if (MULTI_LIBRARY_IDS.includes(lib)) return [{ lib, lock: 'multi' as const }];
    return [];
  });
}

export async function runLockFamily(context: BenchContext): Promise<FamilyResult[]> {
  const out: FamilyResult[] = [];
  const { contenders: counts, durationMs, names, pick } = context.config.family;
  const runs = familyRuns(context.libs);
  for (const [round_, contenders] of counts.entries()) {
    for (const { lib, lock } of rotated(runs, round_)) {
      context.log(`lock family: ${lock}, C=${contenders} ${lib}`);
      const { results, snapshot, windowUs } = await contendOnce(
        context,
        lib,
        contenders,
        durationMs,
        `family-${lock}`,
        lock === 'mutex' ? {} : { family: { kind: lock, names, pick } },
      );
      const figures = analyzeContended(results, windowUs);
      const perAcquisition = per(figures.acquisitions);
      out.push({
        lib,
        lock,
        contenders,
        names: lock === 'multi' ? names : 1,
        pick: lock === 'multi' ? pick : 1,
        ...figures,
        commandsPerAcquisition: perAcquisition(totalCalls(snapshot.calls)),
        redisCpuUsPerAcquisition: perAcquisition(snapshot.cpuSeconds * 1e6),
      });
    }
  }
  return out;
}
