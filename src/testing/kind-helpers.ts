/**
 * What the tests of the kinds beyond the mutex share: their view of the suite, and small waiting
 * helpers that never hang (each is bounded by time).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
export { sleep, track, until, within } from './wait.js';

/** Runs `fn` in a fresh temporary folder, removed afterwards. */
export async function inTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts one worker per task, waits (bounded) until all are done and gone; sums their violations. */
export async function runWorkers(
  startWorker: (task: WorkerTask) => WorkerProcess,
  tasks: readonly WorkerTask[],
): Promise<number> {
  const workers = tasks.map((task) => startWorker(task));
  const done = await Promise.all(workers.map((worker) => worker.next('done', 120_000)));
  await Promise.all(workers.map((worker) => worker.exited));
  return done.reduce((sum, event) => sum + (event.event === 'done' ? event.violations : 0), 0);
}

/**
 * Asserts that no key of a lock exists: what a refused call leaves. (Not DBSIZE: keys of earlier
 * tests expire meanwhile.)
 */
export async function assertNoKeys(ctx: KindSuiteContext, keys: object): Promise<void> {
  for (const key of Object.values(keys)) {
    assert.equal(Number(await ctx.server().command('EXISTS', String(key))), 0, `${key} exists`);
  }
}
