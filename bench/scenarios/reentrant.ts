/**
 * Scenario 8, what re-entry costs: latchkey's reentrant lock, uncontended, on one worker process
 * per adapter, acquire+release pairs one after another, taken four ways:
 *
 * - `mutex`: latchkey's mutex (the baseline);
 * - `owner`: the reentrant lock by an owner id, the lock free (a first acquisition);
 * - `nested`: an acquire nested inside a `withLock` of the reentrant lock the worker holds (the
 *   async context's hold: no Redis call is expected, and the lock server's counts show it);
 * - `same-owner`: an acquire by the owner id that a second worker process holds the lock with (a
 *   Redis round trip and no wait).
 *
 * Rounds rotate the adapters and the ways so drift hits all alike; the lock server's counters are
 * reset before each round's pairs (after any hold a way needs is taken) and read after them. No
 * Node library benchmarked here has a reentrant lock, so the rows are latchkey's alone.
 */
import { type BenchContext, rotated } from '../context.js';
import { FAMILY_LIBRARY_IDS, type LibraryId } from '../libs/index.js';
import type { Worker } from '../pool.js';
import type { ReentrantPairsResult, ReentrantWay } from '../protocol.js';
import { totalCalls } from '../redis-stats.js';
import { per, round, summarize } from '../stats.js';

export type ReentrantOp = 'mutex' | 'owner' | 'nested' | 'same-owner';

export const REENTRANT_OPS: readonly ReentrantOp[] = ['mutex', 'owner', 'nested', 'same-owner'];

/** One measured round: its pairs' times and what the lock server ran meanwhile. */
export interface ReentrantRound {
  readonly lib: LibraryId;
  readonly op: ReentrantOp;
  readonly pairUs: readonly number[];
  readonly calls: ReadonlyMap<string, number>;
  readonly cpuSeconds: number;
}

export interface ReentrantResult {
  readonly lib: LibraryId;
  readonly op: ReentrantOp;
  readonly pairs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** This way's p50 / the mutex's p50 on the same adapter (NaN without a mutex row). */
  readonly vsMutexP50: number;
  /** Every command the lock server ran during the pairs, including those scripts called. */
  readonly commands: number;
  readonly commandsPerPair: number;
  /** EVAL/EVALSHA (and _RO, FCALL) calls per pair: scripts the client sent. */
  readonly scriptsPerPair: number;
  readonly redisCpuUsPerPair: number;
  readonly byCommand: Record<string, number>;
}

/** Commands that run a script: sent by a client, never called from inside a script. */
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** Merges the rounds of each adapter and way into one row, in REENTRANT_OPS order per adapter. */
export function reentrantCosts(rounds: readonly ReentrantRound[]): ReentrantResult[] {
  const libs = [...new Set(rounds.map((r) => r.lib))];
  return libs.flatMap((lib) => {
    const merged = REENTRANT_OPS.flatMap((op) => {
      const mine = rounds.filter((r) => r.lib === lib && r.op === op);
      if (mine.length === 0) return [];
      const calls = new Map<string, number>();
      for (const r of mine) {
        for (const [name, count] of r.calls) calls.set(name, (calls.get(name) ?? 0) + count);
      }
      const samples = mine.flatMap((r) => r.pairUs);
      const cpuSeconds = mine.reduce((total, r) => total + r.cpuSeconds, 0);
      return [{ op, samples, calls, cpuSeconds }];
    });
    const mutexP50 = summarize(merged.find((m) => m.op === 'mutex')?.samples ?? []).p50;
    return merged.map(({ op, samples, calls, cpuSeconds }) => {
      const times = summarize(samples);
      const pairs = times.count;
      const perPair = per(pairs);
      const scripts = [...calls].reduce(
        (total, [name, count]) => total + (SCRIPT_COMMANDS.has(name) ? count : 0),
        0,
      );
      const commands = totalCalls(calls);
      return {
        lib,
        op,
        pairs,
        p50Us: round(times.p50),
        p99Us: round(times.p99),
        vsMutexP50: round(times.p50 / mutexP50),
        commands,
        commandsPerPair: perPair(commands),
        scriptsPerPair: perPair(scripts),
        redisCpuUsPerPair: perPair(cpuSeconds * 1e6),
        byCommand: Object.fromEntries(calls),
      };
    });
  });
}

/** How the measuring worker takes the lock for each way. */
const WAY: Record<ReentrantOp, ReentrantWay> = {
  mutex: 'mutex',
  owner: 'owner',
  nested: 'nested',
  'same-owner': 'owner',
};

interface Pair {
  /** Runs the timed pairs. */
  readonly main: Worker;
  /** Holds the lock by the owner id for `same-owner`. */
  readonly other: Worker;
}

export async function runReentrant(context: BenchContext): Promise<ReentrantResult[]> {
  const { config, pool, lockServer } = context;
  const libs = context.libs.filter((lib) => FAMILY_LIBRARY_IDS.includes(lib));
  if (libs.length === 0) return [];
  const workers = new Map<LibraryId, Pair>(
    libs.map((lib, i) => [
      lib,
      { main: pool.workers[2 * i] as Worker, other: pool.workers[2 * i + 1] as Worker },
    ]),
  );
  const all = [...workers.values()].flatMap(({ main, other }) => [main, other]);
  await Promise.all(
    libs.flatMap((lib) => {
      const { main, other } = workers.get(lib) as Pair;
      return [main, other].map((worker) =>
        worker.call({
          kind: 'open',
          lib,
          url: lockServer.url,
          warmupPairs: config.warmupPairs,
          warmFamily: { kind: 'reentrant', names: 1, pick: 1, seed: 0 },
        }),
      );
    }),
  );
  try {
    context.log('reentrant: warm-up round');
    for (const lib of libs) {
      for (const op of REENTRANT_OPS) {
        await measure(context, lib, workers.get(lib) as Pair, op, config.warmupPairs);
      }
    }
    const rounds: ReentrantRound[] = [];
    for (let r = 0; r < config.reentrant.rounds; r++) {
      context.log(`reentrant: round ${r + 1}/${config.reentrant.rounds}`);
      for (const lib of rotated(libs, r)) {
        for (const op of rotated(REENTRANT_OPS, r)) {
          const pair = workers.get(lib) as Pair;
          rounds.push(await measure(context, lib, pair, op, config.reentrant.pairsPerRound));
        }
      }
    }
    return reentrantCosts(rounds);
  } finally {
    await Promise.all(all.map((worker) => worker.call({ kind: 'close' })));
  }
}

/** One round of `pairs` pairs of one way, with the hold it needs taken around the counted part. */
async function measure(
  context: BenchContext,
  lib: LibraryId,
  { main, other }: Pair,
  op: ReentrantOp,
  pairs: number,
): Promise<ReentrantRound> {
  const { config, stats } = context;
  const key = `bench:reentrant:${lib}:${op}`;
  const owner = `bench-owner-${op}`;
  const holder = op === 'nested' ? main : op === 'same-owner' ? other : undefined;
  if (holder) {
    await holder.call({
      kind: 'reentrant-enter',
      key,
      ttlMs: config.ttlMs,
      how: op === 'nested' ? 'context' : 'owner',
      owner,
    });
  }
  try {
    await stats.reset();
    const { pairUs } = await main.call<ReentrantPairsResult>({
      kind: 'reentrant-pairs',
      key,
      ttlMs: config.ttlMs,
      way: WAY[op],
      owner,
      pairs,
      maxMs: config.reentrant.maxRoundMs,
    });
    const snapshot = await stats.snapshot();
    return { lib, op, pairUs, calls: snapshot.calls, cpuSeconds: snapshot.cpuSeconds };
  } finally {
    if (holder) await holder.call({ kind: 'reentrant-leave' });
  }
}
