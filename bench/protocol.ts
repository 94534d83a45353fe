/** Messages between the harness (bench/run.ts) and its worker processes (bench/worker.ts). */
import type { LibraryId } from './libs/index.js';

export type Task =
  | { kind: 'open'; lib: LibraryId; url: string; warmupPairs: number }
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
    }
  | { kind: 'waiters-stop'; windowStartUs: number; windowEndUs: number; stopTimeoutMs: number };

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
  readonly acquisitions: number;
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  /** Loops still running when the stop timeout ended (a library that could not be cancelled). */
  readonly unfinished: number;
}

export type TaskResult =
  | PairsResult
  | ContendResult
  | ManyKeysResult
  | WaitersStarted
  | WaitersStopped
  | null;

export type Request = { readonly id: number; readonly task: Task };
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: TaskResult }
  | { readonly id: number; readonly ok: false; readonly error: string };
