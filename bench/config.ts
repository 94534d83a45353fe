/** Sizes and durations of a benchmark run: the full run, and `--quick` for a smoke run in CI. */

export interface BenchConfig {
  readonly mode: 'full' | 'quick';
  /** Lock ttl for every library, ms (latchkey's default). */
  readonly ttlMs: number;
  /** Hold time in the contended and many-waiters scenarios, ms. */
  readonly holdMs: number;
  /** Acquire+release pairs each worker runs when it opens a library, before any clock starts. */
  readonly warmupPairs: number;
  readonly uncontended: { readonly rounds: number; readonly pairsPerRound: number };
  readonly contended: {
    readonly contenders: readonly number[];
    readonly durationMs: number;
    /** How long after the window a straggling acquire may take before the worker stops waiting. */
    readonly drainMs: number;
  };
  /** The MONITOR pass that tells client commands from script commands (see command-audit.ts). */
  readonly audit: { readonly contenders: number; readonly durationMs: number };
  readonly manyKeys: {
    readonly tasks: number;
    /** One unmeasured round per library before the measured ones, ms. */
    readonly warmupMs: number;
    readonly rounds: number;
    readonly durationMs: number;
  };
  /** C processes share `limit` permits of one key (hold: holdMs). */
  readonly semaphore: {
    readonly contenders: readonly number[];
    readonly limit: number;
    readonly durationMs: number;
  };
  /**
   * The read-write lock against the mutex: C processes, each turn a read with probability
   * readPercent % (hold: holdMs); and W waiters on the read-write lock with the same mix (processes,
   * settle and window as manyWaiters).
   */
  readonly readWrite: {
    readonly contenders: readonly number[];
    readonly readPercent: number;
    readonly durationMs: number;
    readonly waiters: readonly number[];
  };
  /**
   * The other kinds (reentrant, election, multi-lock) against the mutex: C processes (hold:
   * holdMs); a multi-lock hold takes `pick` of `names` names.
   */
  readonly family: {
    readonly contenders: readonly number[];
    readonly durationMs: number;
    readonly names: number;
    readonly pick: number;
  };
  /**
   * What re-entry costs (scenario 8): rounds of `pairsPerRound` uncontended acquire+release pairs
   * per way of taking the lock, each round stopped after `maxRoundMs` at the latest.
   */
  readonly reentrant: {
    readonly rounds: number;
    readonly pairsPerRound: number;
    readonly maxRoundMs: number;
  };
  /**
   * Scenario 10, on Redis Clusters: many keys (manyKeys' sizes) on one and on three masters, and C
   * processes on one key on three masters for `durationMs` each.
   */
  readonly cluster: { readonly contenders: readonly number[]; readonly durationMs: number };
  readonly manyWaiters: {
    readonly waiters: readonly number[];
    readonly processes: number;
    /** Time for waiters to queue up before the window opens, ms. */
    readonly settleMs: number;
    readonly windowMs: number;
    readonly stopTimeoutMs: number;
  };
}

export const FULL: BenchConfig = {
  mode: 'full',
  ttlMs: 10_000,
  holdMs: 1,
  warmupPairs: 50,
  // Many short rounds rather than a few long ones: this VM's speed drifts within seconds, and
  // short alternating rounds spread that drift over every library alike.
  uncontended: { rounds: 12, pairsPerRound: 250 },
  contended: { contenders: [2, 8, 32], durationMs: 10_000, drainMs: 4_000 },
  audit: { contenders: 8, durationMs: 2_000 },
  manyKeys: { tasks: 256, warmupMs: 1_500, rounds: 5, durationMs: 1_000 },
  semaphore: { contenders: [8, 32], limit: 4, durationMs: 10_000 },
  readWrite: {
    contenders: [8, 32],
    readPercent: 90,
    durationMs: 10_000,
    waiters: [100, 1_000, 10_000],
  },
  family: { contenders: [8, 32], durationMs: 5_000, names: 4, pick: 2 },
  reentrant: { rounds: 12, pairsPerRound: 250, maxRoundMs: 10_000 },
  cluster: { contenders: [8, 32], durationMs: 5_000 },
  manyWaiters: {
    waiters: [100, 1_000, 10_000],
    processes: 8,
    settleMs: 2_000,
    windowMs: 5_000,
    stopTimeoutMs: 5_000,
  },
};

export const QUICK: BenchConfig = {
  mode: 'quick',
  ttlMs: 10_000,
  holdMs: 1,
  warmupPairs: 5,
  uncontended: { rounds: 2, pairsPerRound: 100 },
  // No C = 32 here: loading a client library into 32 fresh processes alone takes longer than
  // the whole smoke run may on a busy 2-core machine.
  // One C and one W each: the smoke run shows every library at work, the full run shows growth.
  contended: { contenders: [8], durationMs: 400, drainMs: 300 },
  audit: { contenders: 4, durationMs: 250 },
  manyKeys: { tasks: 256, warmupMs: 100, rounds: 1, durationMs: 400 },
  semaphore: { contenders: [8], limit: 4, durationMs: 400 },
  // One W only: a second crowd costs CI 4 s and cannot show growth in a 400 ms window anyway.
  readWrite: { contenders: [8], readPercent: 90, durationMs: 400, waiters: [100] },
  // The peers' multi-key locks poll 200 ms apart: a shorter window would show only their retries.
  family: { contenders: [8], durationMs: 400, names: 4, pick: 2 },
  reentrant: { rounds: 2, pairsPerRound: 100, maxRoundMs: 2_000 },
  cluster: { contenders: [4], durationMs: 400 },
  manyWaiters: {
    waiters: [1_000],
    processes: 8,
    settleMs: 200,
    windowMs: 400,
    stopTimeoutMs: 300,
  },
};
