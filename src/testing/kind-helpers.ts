/**
 * What the tests of the kinds beyond the mutex share: their view of the suite, and small waiting
 * helpers that never hang (each is bounded by time).
 */
import type { Locker } from '../index.js';
import type { LockerOptions } from '../options.js';
import type { SuiteServer } from './types.js';
import type { WorkerEvent, WorkerTask } from './worker.js';

/** A started worker process, as the process tests drive it. */
export interface WorkerProcess {
  readonly exited: Promise<{ code: number | null }>;
  next(kind: WorkerEvent['event'], ms?: number): Promise<WorkerEvent>;
}

export interface KindSuiteContext {
  readonly target: string;
  server(): SuiteServer;
  newLocker(options?: LockerOptions): Promise<Locker>;
  /** A fresh name per test, so tests never see each other's keys. */
  fresh(label: string): string;
  /** Starts a worker process; undefined when the target has no worker. */
  readonly startWorker: ((task: WorkerTask) => WorkerProcess) | undefined;
  /** Scales the multi-process sizes. */
  readonly scale: number;
}

export { PREFIX } from './context.js';
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with how `promise` settled, without throwing, so a test can look at a pending one. */
export function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  const done = promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
      return value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
      throw error;
    },
  );
  done.catch(() => {});
  return { state, done };
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` (bounded) until it holds. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  ms = 5_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}
