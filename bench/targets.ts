/**
 * The issue's targets for latchkey's default mutex, its semaphore and its read-write lock, checked against one run's figures for each
 * latchkey adapter. Where the issue leaves a threshold open ("flat", "not growing") the threshold
 * used is written in the target's text.
 */
import { isLatchkey } from './libs/index.js';
import type { ContendedResult } from './scenarios/contended.js';
import type { FamilyResult } from './scenarios/lock-family.js';
import type { ManyWaitersResult } from './scenarios/many-waiters.js';
import type { ReadWriteResult, ReadWriteWaitersResult } from './scenarios/read-write.js';
import type { ReentrantResult } from './scenarios/reentrant.js';
import type { SemaphoreResult } from './scenarios/semaphore.js';
import type { ManyKeysSummary, UncontendedResult } from './scenarios/single-process.js';
import { round } from './stats.js';

export interface TargetResult {
  readonly lib: string;
  readonly target: string;
  readonly measured: string;
  /** undefined when the run did not measure it (e.g. --quick without that scenario size). */
  readonly pass: boolean | undefined;
}

interface Figures {
  readonly uncontended: Readonly<Record<string, UncontendedResult>>;
  readonly contended: readonly ContendedResult[];
  readonly manyKeys: Readonly<Record<string, ManyKeysSummary>>;
  readonly manyWaiters: readonly ManyWaitersResult[];
  readonly semaphore: readonly SemaphoreResult[];
  readonly readWrite: readonly ReadWriteResult[];
  readonly readWriteWaiters: readonly ReadWriteWaitersResult[];
  readonly family: readonly FamilyResult[];
  readonly reentrant: readonly ReentrantResult[];
}

/**
 * Issue 11's fast-path targets per adapter: uncontended pair p50 at most this many times the raw
 * floor's (ioredis) in the same run, and many-keys throughput at least this share of the floor's.
 */
const FAST_PATH: Readonly<
  Record<string, { readonly pairRatio: number; readonly keysShare: number }>
> = {
  'latchkey-ioredis': { pairRatio: 1.15, keysShare: 0.95 },
  'latchkey-node-redis': { pairRatio: 1.25, keysShare: 0.85 },
};
/** Issue 11: commands run inside scripts per hand-over, at most. */
const SCRIPT_COMMANDS_PER_HANDOFF = 10;

/** The issue states the contended targets at this C, and "flat" from FEWEST to MOST waiters. */
const TARGET_C = 32;
const FEWEST_WAITERS = 100;
const MOST_WAITERS = 10_000;
/** "Not growing with C": the value at the largest C is at most this factor of the smallest C's. */
const GROWTH_TOLERANCE = 1.1;
/** "Flat": the per-handoff value at the most waiters is at most this factor of the fewest's. */
const FLAT_TOLERANCE = 1.25;

export function checkTargets(libs: readonly string[], figures: Figures): TargetResult[] {
  const out: TargetResult[] = [];
  for (const lib of libs.filter(isLatchkey)) {
    const add = (target: string, measured: string, pass: boolean | undefined) =>
      out.push({ lib, target, measured, pass });
    const unc = figures.uncontended[lib];
    add(
      'uncontended pair/PING p50 ≤ 2.15 (fencing + auto-refresh on)',
      unc ? `${unc.ratioP50} (pair ${unc.pairP50Us} µs, PING ${unc.pingP50Us} µs)` : 'n/a',
      unc ? unc.ratioP50 <= 2.15 : undefined,
    );
    const fastPath = FAST_PATH[lib];
    const rawPairs = figures.uncontended.raw;
    if (fastPath) {
      add(
        `uncontended pair p50 ≤ ${fastPath.pairRatio} × the raw floor's (same run)`,
        unc && rawPairs
          ? `${round(unc.pairP50Us / rawPairs.pairP50Us)}× (${unc.pairP50Us} vs ${rawPairs.pairP50Us} µs)`
          : 'n/a',
        unc && rawPairs ? unc.pairP50Us <= fastPath.pairRatio * rawPairs.pairP50Us : undefined,
      );
    }

    const runs = figures.contended
      .filter((r) => r.lib === lib)
      .sort((a, b) => a.contenders - b.contenders);
    const largest = runs.find((r) => r.contenders === TARGET_C);
    const smallest = runs[0];
    const atC = `C = ${TARGET_C}`;
    const biggestRun = runs[runs.length - 1];
    const notRun = (pick: (r: ContendedResult) => string) =>
      biggestRun ? `not run (C = ${biggestRun.contenders}: ${pick(biggestRun)})` : 'not run';
    add(
      `${atC}: wait p99 ≤ 60 ms`,
      largest ? `${largest.waitP99Ms} ms` : notRun((r) => `${r.waitP99Ms} ms`),
      largest ? largest.waitP99Ms <= 60 : undefined,
    );
    add(
      `${atC}: wait max ≤ 150 ms`,
      largest ? `${largest.waitMaxMs} ms` : notRun((r) => `${r.waitMaxMs} ms`),
      largest ? largest.waitMaxMs <= 150 : undefined,
    );
    add(
      `${atC}: per-contender min/max ≥ 0.8`,
      largest
        ? `${largest.fairness} (${largest.perContenderMin}/${largest.perContenderMax})`
        : notRun((r) => `${r.fairness}`),
      largest ? largest.fairness >= 0.8 : undefined,
    );
    add(
      `${atC}: client (top-level) commands per acquisition ≤ 5`,
      largest ? `${largest.topLevelPerAcquisition}` : notRun((r) => `${r.topLevelPerAcquisition}`),
      largest ? largest.topLevelPerAcquisition <= 5 : undefined,
    );
    const insideScripts = (r: ContendedResult) =>
      round(r.commandsPerAcquisition - r.topLevelPerAcquisition);
    add(
      `${atC}: commands inside scripts per hand-over ≤ ${SCRIPT_COMMANDS_PER_HANDOFF}`,
      largest ? `${insideScripts(largest)}` : notRun((r) => `${insideScripts(r)}`),
      largest ? insideScripts(largest) <= SCRIPT_COMMANDS_PER_HANDOFF : undefined,
    );
    add(
      `${atC}: all commands per acquisition (incl. inside scripts) ≤ 5`,
      largest ? `${largest.commandsPerAcquisition}` : notRun((r) => `${r.commandsPerAcquisition}`),
      largest ? largest.commandsPerAcquisition <= 5 : undefined,
    );
    const growth = (pick: (r: ContendedResult) => number) =>
      runs.map((r) => `C=${r.contenders}: ${pick(r)}`).join(', ');
    const grows = (pick: (r: ContendedResult) => number) =>
      largest && smallest && smallest !== largest
        ? pick(largest) <= pick(smallest) * GROWTH_TOLERANCE
        : undefined;
    add(
      `commands per acquisition not growing with C (C = ${TARGET_C} ≤ ${GROWTH_TOLERANCE} × smallest C), client commands`,
      growth((r) => r.topLevelPerAcquisition),
      grows((r) => r.topLevelPerAcquisition),
    );
    add(
      `commands per acquisition not growing with C (C = ${TARGET_C} ≤ ${GROWTH_TOLERANCE} × smallest C), all commands`,
      growth((r) => r.commandsPerAcquisition),
      grows((r) => r.commandsPerAcquisition),
    );
    add(
      'max simultaneous holders = 1 (every C)',
      runs.map((r) => `C=${r.contenders}: ${r.maxHolders}`).join(', ') || 'n/a',
      runs.length > 0 ? runs.every((r) => r.maxHolders === 1) : undefined,
    );
    const ping = unc?.pingP50Us;
    add(
      'release-to-other-holder p50 ≤ 2 × PING p50 (every C; from release start)',
      ping !== undefined && runs.length > 0
        ? `${runs.map((r) => `C=${r.contenders}: ${round(r.handoffP50Ms * 1000)} µs`).join(', ')}; 2 × PING = ${round(2 * ping)} µs`
        : 'n/a',
      ping !== undefined && runs.length > 0
        ? runs.every((r) => r.handoffP50Ms * 1000 <= 2 * ping)
        : undefined,
    );

    const keys = figures.manyKeys[lib];
    const floor = figures.manyKeys.raw;
    const keysShare = fastPath?.keysShare ?? 0.95;
    add(
      `many keys ≥ ${round(keysShare * 100)}% of the raw floor's ops/s`,
      keys && floor
        ? `${round((keys.opsPerSec / floor.opsPerSec) * 100)}% (${keys.opsPerSec} vs ${floor.opsPerSec} ops/s)`
        : 'n/a',
      keys && floor ? keys.opsPerSec >= keysShare * floor.opsPerSec : undefined,
    );

    const waits = figures.manyWaiters
      .filter((r) => r.lib === lib)
      .sort((a, b) => a.waiters - b.waiters);
    const fewest = waits.find((r) => r.waiters === FEWEST_WAITERS);
    const most = waits.find((r) => r.waiters === MOST_WAITERS);
    const flat = (pick: (r: ManyWaitersResult) => number) =>
      fewest && most ? pick(most) <= pick(fewest) * FLAT_TOLERANCE : undefined;
    const series = (pick: (r: ManyWaitersResult) => number) =>
      waits.map((r) => `W=${r.waiters}: ${pick(r)}`).join(', ') || 'n/a';
    add(
      `many waiters: all commands per handoff flat (W = ${MOST_WAITERS} ≤ ${FLAT_TOLERANCE} × W = ${FEWEST_WAITERS})`,
      series((r) => r.commandsPerHandoff),
      flat((r) => r.commandsPerHandoff),
    );
    add(
      `many waiters: Redis CPU µs per handoff flat (W = ${MOST_WAITERS} ≤ ${FLAT_TOLERANCE} × W = ${FEWEST_WAITERS})`,
      series((r) => r.redisCpuUsPerHandoff),
      flat((r) => r.redisCpuUsPerHandoff),
    );

    const permits = figures.semaphore.filter((r) => r.lib === lib);
    const atTargetC = permits.find((r) => r.contenders === TARGET_C);
    const peer = figures.semaphore.find(
      (r) => r.lib === 'redis-semaphore' && r.contenders === TARGET_C,
    );
    add(
      `semaphore N = 4, ${atC}: wait p99 ≥ 10× below redis-semaphore's`,
      atTargetC && peer
        ? `${atTargetC.waitP99Ms} ms vs ${peer.waitP99Ms} ms (${round(peer.waitP99Ms / atTargetC.waitP99Ms)}×)`
        : 'not run',
      atTargetC && peer ? peer.waitP99Ms >= 10 * atTargetC.waitP99Ms : undefined,
    );
    add(
      `semaphore N = 4, ${atC}: per-contender min/max ≥ 0.8`,
      atTargetC ? `${atTargetC.fairness}` : 'not run',
      atTargetC ? atTargetC.fairness >= 0.8 : undefined,
    );
    add(
      'semaphore: max holders ≤ N (every C)',
      permits.map((r) => `C=${r.contenders}: ${r.maxHolders}`).join(', ') || 'n/a',
      permits.length > 0 ? permits.every((r) => r.maxHolders <= r.limit) : undefined,
    );
    const [fewestC] = permits;
    const mostC = permits[permits.length - 1];
    add(
      `semaphore: all commands per acquisition not growing with C (largest ≤ ${GROWTH_TOLERANCE} × smallest)`,
      permits.map((r) => `C=${r.contenders}: ${r.commandsPerAcquisition}`).join(', ') || 'n/a',
      fewestC && mostC && fewestC !== mostC
        ? mostC.commandsPerAcquisition <= fewestC.commandsPerAcquisition * GROWTH_TOLERANCE
        : undefined,
    );

    readWriteTargets(lib, figures, add);
    familyTargets(lib, figures, add);
    reentrantTargets(lib, figures, add);
  }
  return out;
}

/**
 * Scenario 7's targets for one latchkey adapter: properties, not speed. Every kind keeps one
 * holder per name and never gives up within its wait; the reentrant lock and the election keep
 * the mutex's FIFO fairness (the multi-lock is FIFO per name, not across sets of names).
 */
function familyTargets(
  lib: string,
  figures: Figures,
  add: (target: string, measured: string, pass: boolean | undefined) => void,
): void {
  const runs = figures.family.filter((r) => r.lib === lib && r.lock !== 'mutex');
  if (runs.length === 0) return;
  const each = (value: (r: FamilyResult) => number | string) =>
    runs.map((r) => `${r.lock} C=${r.contenders}: ${value(r)}`).join(', ');
  add(
    'lock family: at most one holder per name (every kind, every C)',
    each((r) => r.maxHolders),
    runs.every((r) => r.maxHolders <= 1),
  );
  add(
    'lock family: no give-ups, no errors (every kind, every C)',
    each((r) => r.giveUps + r.errors),
    runs.every((r) => r.giveUps === 0 && r.errors === 0),
  );
  const fifo = runs.filter((r) => r.lock !== 'multi' && r.contenders === TARGET_C);
  add(
    `lock family: reentrant and election per-contender min/max ≥ 0.8 at C = ${TARGET_C}`,
    fifo.map((r) => `${r.lock}: ${r.fairness}`).join(', ') || 'not run',
    fifo.length > 0 ? fifo.every((r) => r.fairness >= 0.8) : undefined,
  );
}

/**
 * Scenario 8's target for one latchkey adapter, a property: a re-entry nested in a `withLock` of
 * the same reentrant lock joins the async context's hold without a Redis command.
 */
function reentrantTargets(
  lib: string,
  figures: Figures,
  add: (target: string, measured: string, pass: boolean | undefined) => void,
): void {
  const nested = figures.reentrant.find((r) => r.lib === lib && r.op === 'nested');
  if (!figures.reentrant.some((r) => r.lib === lib)) return;
  add(
    'reentrant: a re-entry nested in withLock sends no Redis command',
    nested
      ? `${nested.commands} commands in ${nested.pairs} nested acquire+release pairs`
      : 'not run',
    nested ? nested.commands === 0 && nested.pairs > 0 : undefined,
  );
}

/** Scenario 6's targets for one latchkey adapter. */
function readWriteTargets(
  lib: string,
  figures: Figures,
  add: (target: string, measured: string, pass: boolean | undefined) => void,
): void {
  const runs = figures.readWrite
    .filter((r) => r.lib === lib)
    .sort((a, b) => a.contenders - b.contenders);
  const rw = runs.filter((r) => r.lock === 'read-write');
  const mutex = runs.filter((r) => r.lock === 'mutex');
  const percent = rw[0]?.readPercent ?? mutex[0]?.readPercent;
  const mix = `read-write, ${percent ?? '?'} % reads`;
  const byC = (rows: readonly ReadWriteResult[], pick: (r: ReadWriteResult) => string | number) =>
    rows.map((r) => `C=${r.contenders}: ${pick(r)}`).join(', ');
  add(
    `${mix}: writer overlaps = 0 (every C; rw lock and mutex)`,
    runs.length > 0
      ? `rw ${byC(rw, (r) => r.writerOverlaps) || 'n/a'}; mutex ${byC(mutex, (r) => r.writerOverlaps) || 'n/a'}`
      : 'not run',
    runs.length > 0 ? runs.every((r) => r.writerOverlaps === 0) : undefined,
  );
  const pairs = rw.flatMap((r) => {
    const baseline = mutex.find((m) => m.contenders === r.contenders);
    return baseline ? [{ rw: r, mutex: baseline }] : [];
  });
  add(
    `${mix}: rw lock acquisitions/s ≥ the mutex's (every C, same run)`,
    pairs
      .map(
        (p) =>
          `C=${p.rw.contenders}: ${p.rw.acquisitionsPerSec} vs ${p.mutex.acquisitionsPerSec}/s (${round(p.rw.acquisitionsPerSec / p.mutex.acquisitionsPerSec)}×)`,
      )
      .join(', ') || 'not run',
    pairs.length > 0
      ? pairs.every((p) => p.rw.acquisitionsPerSec >= p.mutex.acquisitionsPerSec)
      : undefined,
  );
  const fewestC = rw[0];
  const mostC = rw[rw.length - 1];
  add(
    `${mix}: rw lock, all commands per acquisition not growing with C (largest ≤ ${GROWTH_TOLERANCE} × smallest)`,
    byC(rw, (r) => r.commandsPerAcquisition) || 'not run',
    fewestC && mostC && fewestC !== mostC
      ? mostC.commandsPerAcquisition <= fewestC.commandsPerAcquisition * GROWTH_TOLERANCE
      : undefined,
  );

  const waits = figures.readWriteWaiters
    .filter((r) => r.lib === lib)
    .sort((a, b) => a.waiters - b.waiters);
  const fewest = waits.find((r) => r.waiters === FEWEST_WAITERS);
  const most = waits.find((r) => r.waiters === MOST_WAITERS);
  const series = (pick: (r: ReadWriteWaitersResult) => number) =>
    waits.map((r) => `W=${r.waiters}: ${pick(r)}`).join(', ') || 'not run';
  const flat = (pick: (r: ReadWriteWaitersResult) => number) =>
    fewest && most ? pick(most) <= pick(fewest) * FLAT_TOLERANCE : undefined;
  add(
    `read-write waiters: all commands per grant flat (W = ${MOST_WAITERS} ≤ ${FLAT_TOLERANCE} × W = ${FEWEST_WAITERS})`,
    series((r) => r.commandsPerGrant),
    flat((r) => r.commandsPerGrant),
  );
  add(
    `read-write waiters: Redis CPU µs per grant flat (W = ${MOST_WAITERS} ≤ ${FLAT_TOLERANCE} × W = ${FEWEST_WAITERS})`,
    series((r) => r.redisCpuUsPerGrant),
    flat((r) => r.redisCpuUsPerGrant),
  );
}
