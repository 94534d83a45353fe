/**
 * Scenarios 1 and 3, both run by one process per library: every library is opened on a worker of
 * its own, then rounds alternate between them (in a rotating order) so drift hits all alike.
 *
 * 1. Uncontended: sequential acquire+release pairs on one key, each beside a PING on the same
 *    connection; the physical floor of a pair is 2 round trips, i.e. a ratio of 2 to PING.
 * 3. Many keys: concurrent tasks, each on its own key, for a fixed time: pairs per second.
 */
import { nowUs } from '../clock.js';
import { type BenchContext, rotated } from '../context.js';
import type { LibraryId } from '../libs/index.js';
import type { Worker } from '../pool.js';
import type { ManyKeysResult, PairsResult } from '../protocol.js';
import { round, summarize } from '../stats.js';

export interface UncontendedResult {
  readonly pairs: number;
  readonly pairP50Us: number;
  readonly pairP99Us: number;
  readonly pingP50Us: number;
  readonly pingP99Us: number;
  /** pair p50 / PING p50. */
  readonly ratioP50: number;
}

export interface ManyKeysSummary {
  readonly opsPerSec: number;
  readonly perRoundOpsPerSec: number[];
  readonly errors: number;
}

export async function runSingleProcessScenarios(
  context: BenchContext,
  run: { readonly uncontended: boolean; readonly manyKeys: boolean },
): Promise<{
  uncontended: Record<string, UncontendedResult>;
  manyKeys: Record<string, ManyKeysSummary>;
}> {
  const { config, libs, pool, lockServer } = context;
  const workers = new Map<LibraryId, Worker>(
    libs.map((lib, i) => [lib, pool.workers[i] as Worker]),
  );
  await Promise.all(
    libs.map((lib) =>
      workers
        .get(lib)
        ?.call({ kind: 'open', lib, url: lockServer.url, warmupPairs: config.warmupPairs }),
    ),
  );
  try {
    const samples = new Map<LibraryId, { pair: number[]; ping: number[] }>(
      libs.map((lib) => [lib, { pair: [], ping: [] }]),
    );
    if (run.uncontended) context.log('uncontended');
    for (let r = 0; run.uncontended && r < config.uncontended.rounds; r++) {
      for (const lib of rotated(libs, r)) {
        const result = await workers.get(lib)!.call<PairsResult>({
          kind: 'pairs',
          key: `bench:uncontended:${lib}`,
          pairs: config.uncontended.pairsPerRound,
          ttlMs: config.ttlMs,
        });
        samples.get(lib)!.pair.push(...result.pairUs);
        samples.get(lib)!.ping.push(...result.pingUs);
      }
    }
    const uncontended: Record<string, UncontendedResult> = {};
    for (const [lib, { pair, ping }] of run.uncontended ? samples : []) {
      const pairs = summarize(pair);
      const pings = summarize(ping);
      uncontended[lib] = {
        pairs: pairs.count,
        pairP50Us: round(pairs.p50),
        pairP99Us: round(pairs.p99),
        pingP50Us: round(pings.p50),
        pingP99Us: round(pings.p99),
        ratioP50: round(pairs.p50 / pings.p50),
      };
    }

    if (run.manyKeys) context.log('many keys');
    // One unmeasured round per library first: the JIT settles on the concurrent path (which the
    // sequential pairs above do not exercise) before any clock runs, for every library alike.
    for (const lib of run.manyKeys ? libs : []) {
      const startAtUs = nowUs() + 50_000;
      await workers.get(lib)!.call<ManyKeysResult>({
        kind: 'many-keys',
        keyPrefix: `bench:many-keys:${lib}:warm-up`,
        tasks: config.manyKeys.tasks,
        startAtUs,
        endAtUs: startAtUs + config.manyKeys.warmupMs * 1000,
        ttlMs: config.ttlMs,
      });
    }
    const rounds = new Map<LibraryId, ManyKeysResult[]>(libs.map((lib) => [lib, []]));
    for (let r = 0; run.manyKeys && r < config.manyKeys.rounds; r++) {
      for (const lib of rotated(libs, r)) {
        const startAtUs = nowUs() + 50_000;
        const result = await workers.get(lib)!.call<ManyKeysResult>({
          kind: 'many-keys',
          keyPrefix: `bench:many-keys:${lib}:${r}`,
          tasks: config.manyKeys.tasks,
          startAtUs,
          endAtUs: startAtUs + config.manyKeys.durationMs * 1000,
          ttlMs: config.ttlMs,
        });
        rounds.get(lib)!.push(result);
      }
    }
    const manyKeys: Record<string, ManyKeysSummary> = {};
    for (const [lib, results] of run.manyKeys ? rounds : []) {
      const ops = results.reduce((total, result) => total + result.ops, 0);
      const seconds = results.reduce((total, result) => total + result.elapsedUs, 0) / 1e6;
      manyKeys[lib] = {
        opsPerSec: round(ops / seconds),
        perRoundOpsPerSec: results.map((result) => round(result.ops / (result.elapsedUs / 1e6))),
        errors: results.reduce((total, result) => total + result.errors, 0),
      };
    }
    return { uncontended, manyKeys };
  } finally {
    await Promise.all(libs.map((lib) => workers.get(lib)?.call({ kind: 'close' })));
  }
}
