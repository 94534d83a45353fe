/** Messages between the harness (bench/run.ts) and its worker processes (bench/worker.ts). */
import type { LibraryId } from './libs/index.js';

export type Task =
  | {
      kind: 'open';
      lib: LibraryId;
      url: string;
      warmupPairs: number;
      /** Also warm up the library's read-write lock (read-write scenarios). */
      warmReadWrite?: boolean;
      /** Also warm up this kind of the lock family (lock-family scenario). */
      warmFamily?: FamilyRun;
    }
  | { kind: 'close' }
  | { kind: 'pairs'; key: string; pairs: number; ttlMs: number }
  | {
      kind: 'contend';
      key: string;
      checkerUrl: string;
      occupancyKey: string;
      startAtUs: number;
      endAtUs: number;
      /** After the window, how long to wait for an acquire in flight before returning anyway. */
      drainMs: number;
      holdMs: number;
      ttlMs: number;
      /** Set for the semaphore scenario: each contender takes one of `limit` permits of `key`. */
      limit?: number;
      /** Set for the read-write scenario: each turn reads or writes, drawn from the mix. */
      readWrite?: ReadWriteMix;
      /** Set for the lock-family scenario: what each turn takes instead of the mutex `key`. */
      family?: FamilyRun;
    }
  | {
      kind: 'many-keys';
      keyPrefix: string;
      tasks: number;
      startAtUs: number;
      endAtUs: number;
      ttlMs: number;
    }
  | {
      kind: 'waiters-start';
      key: string;
      waiters: number;
      holdMs: number;
      ttlMs: number;
      settleMs: number;
      /** Set for the read-write waiters: each turn of each waiter reads or writes, from the mix. */
      readWrite?: ReadWriteMix;
    }
  | { kind: 'waiters-stop'; windowStartUs: number; windowEndUs: number; stopTimeoutMs: number }
  | {
      /** Scenario 8: takes a reentrant hold of `key` and keeps it until 'reentrant-leave'. */
      kind: 'reentrant-enter';
      key: string;
      ttlMs: number;
      /** `'owner'`: an acquire by `owner`; `'context'`: a `withLock` to nest acquisitions in. */
      how: 'owner' | 'context';
      owner: string;
    }
  | {
      /** Scenario 8: timed acquire+release pairs, one after another, one way of taking the lock. */
      kind: 'reentrant-pairs';
      key: string;
      ttlMs: number;
      way: ReentrantWay;
      owner: string;
      pairs: number;
      /** Stop after this long even if fewer pairs ran, ms. */
      maxMs: number;
    }
  | { kind: 'reentrant-leave' };

/**
 * How a scenario 8 pair takes the lock: latchkey's mutex, the reentrant lock by `owner`, or an
 * acquire nested in the worker's kept `withLock` (task 'reentrant-enter' with `how: 'context'`).
 */
export type ReentrantWay = 'mutex' | 'owner' | 'nested';

/** What a read-write run takes, and how it draws reads and writes. */
export interface ReadWriteMix {
  /**
   * `'read-write'`: reads take the read lock of `key`, writes its write lock; `'mutex'`: both
   * take the mutex `key` (the baseline).
   */
  readonly lock: 'read-write' | 'mutex';
  readonly readPercent: number;
  /** Seed of this process's sequence of reads and writes (see mix.ts). */
  readonly seed: number;
}

/** The kinds of the lock-family scenario (the mutex is its baseline, run without `family`). */
export type FamilyKind = 'reentrant' | 'election' | 'multi';

/**
 * What a lock-family run takes each turn: a reentrant hold of `key` entered twice by this
 * process's owner id, leadership of the election `key`, or a multi-lock over `pick` names drawn
 * (seeded per process) from `<key>.0` … `<key>.<names − 1>`.
 */
export interface FamilyRun {
  readonly kind: FamilyKind;
  readonly names: number;
  readonly pick: number;
  readonly seed: number;
}

export interface PairsResult {
  readonly pairUs: number[];
  readonly pingUs: number[];
}

/** One acquisition in the contended scenario, all times monotonic µs. */
export interface ContendResult {
  readonly wantUs: number[];
  readonly acquiredUs: number[];
  readonly releaseStartUs: number[];
  readonly releaseEndUs: number[];
  /** Fencing token per acquisition, or -1 when the library has none. */
  readonly fence: number[];
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  /** Highest value the occupancy counter showed right after this worker's acquisitions. */
  readonly maxOccupancy: number;
  /** Set when the task had `readWrite`. */
  readonly readWrite?: ReadWriteTally;
}

/** A read-write run's checker findings and the kind of each acquisition. */
export interface ReadWriteTally {
  /** Per counted acquisition (aligned with `acquiredUs`): true for a read, false for a write. */
  readonly reads: boolean[];
  /**
   * Acquisitions whose checker increment showed a writer together with anyone else (a writer
   * that found others in, or a reader that found a writer in); every acquisition, counted or not.
   */
  readonly writerOverlaps: number;
  /** Most readers the checker showed at once, this process's readers seeing it. */
  readonly maxReaders: number;
}

export interface ManyKeysResult {
  readonly ops: number;
  readonly elapsedUs: number;
  readonly errors: number;
}

export interface WaitersStarted {
  /** Growth of the JS heap per waiter after a GC, bytes. */
  readonly heapBytesPerWaiter: number;
  /** Growth of the resident set per waiter, bytes (includes connection buffers). */
  readonly rssBytesPerWaiter: number;
}

export interface WaitersStopped {
  readonly handoffsInWindow: number;
  /** Of those, the ones that were reads (read-write waiters; 0 otherwise). */
  readonly readsInWindow: number;
  readonly acquisitions: number;
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  /** Loops still running when the stop timeout ended (a library that could not be cancelled). */
  readonly unfinished: number;
}

/** Scenario 8's timed pairs: µs per acquire+release. */
export interface ReentrantPairsResult {
  readonly pairUs: number[];
}

export type TaskResult =
  | PairsResult
  | ReentrantPairsResult
  | ContendResult
  | ManyKeysResult
  | WaitersStarted
  | WaitersStopped
  | null;

export type Request = { readonly id: number; readonly task: Task };
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: TaskResult }
  | { readonly id: number; readonly ok: false; readonly error: string };
