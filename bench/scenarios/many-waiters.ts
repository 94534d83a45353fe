/**
 * Scenario 4, many waiters: W waiters on one lock, spread over 8 processes, each going back to the
 * end of the line after its turn, so W stay queued. After they settle, the lock server's counters
 * are reset and read again after a fixed window: commands and CPU per handoff, at W = 100, 1,000
 * and 10,000, to see whether the cost of a handoff depends on how many wait. Polling libraries get
 * the same bounded window; what they did in it is reported as is.
 */

import { nowUs } from '../clock.js';
import type { CommandOrigins } from '../command-audit.js';
import { topLevelCalls } from '../command-audit.js';
import { type BenchContext, rotated } from '../context.js';
import type { LibraryId } from '../libs/index.js';
import { type Worker, WorkerPool } from '../pool.js';
import type { ReadWriteMix, WaitersStarted, WaitersStopped } from '../protocol.js';
import { type ServerSnapshot, totalCalls } from '../redis-stats.js';
import { per, round } from '../stats.js';

export interface ManyWaitersResult {
  readonly lib: LibraryId;
  readonly waiters: number;
  readonly windowMs: number;
  readonly handoffs: number;
  readonly handoffsPerSec: number;
  readonly commandsPerHandoff: number;
  readonly topLevelPerHandoff: number;
  readonly redisCpuUsPerHandoff: number;
  readonly commandsPerSec: number;
  /** Share of one core the lock server used during the window. */
  readonly redisCpuShare: number;
  readonly heapBytesPerWaiter: number;
  readonly rssBytesPerWaiter: number;
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  readonly unfinished: number;
  readonly commands: Record<string, number>;
}

export async function runManyWaiters(
  context: BenchContext,
  audits: Record<string, CommandOrigins>,
): Promise<ManyWaitersResult[]> {
  const settings = context.config.manyWaiters;
  const workers = context.pool.take(settings.processes);
  const out: ManyWaitersResult[] = [];
  for (const [round_, waiters] of settings.waiters.entries()) {
    for (const lib of rotated(context.libs, round_)) {
      context.log(`many waiters: W=${waiters} ${lib}`);
      const { started, stopped, snapshot, seconds, handoffs } = await waitersOnce(
        context,
        workers,
        lib,
        waiters,
        `bench:waiters:${lib}:${waiters}`,
      );
      const perHandoff = per(handoffs);
      const calls = totalCalls(snapshot.calls);
      out.push({
        lib,
        waiters,
        windowMs: round(seconds * 1000),
        handoffs,
        handoffsPerSec: round(handoffs / seconds),
        commandsPerHandoff: perHandoff(calls),
        topLevelPerHandoff: perHandoff(topLevelCalls(snapshot.calls, audits[lib])),
        redisCpuUsPerHandoff: perHandoff(snapshot.cpuSeconds * 1e6),
        commandsPerSec: round(calls / seconds),
        redisCpuShare: round(snapshot.cpuSeconds / seconds),
        heapBytesPerWaiter: round(mean(started.map((s) => s.heapBytesPerWaiter))),
        rssBytesPerWaiter: round(mean(started.map((s) => s.rssBytesPerWaiter))),
        giveUps: stopped.reduce((total, s) => total + s.giveUps, 0),
        errors: stopped.reduce((total, s) => total + s.errors, 0),
        lastError: stopped.find((s) => s.lastError)?.lastError,
        unfinished: stopped.reduce((total, s) => total + s.unfinished, 0),
        commands: Object.fromEntries(snapshot.calls),
      });
    }
  }
  return out;
}

/** One library's W waiters over `workers`, measured over one window after they settle. */
export async function waitersOnce(
  context: BenchContext,
  workers: readonly Worker[],
  lib: LibraryId,
  waiters: number,
  key: string,
  /** Read or write each turn (the waiters of worker i draw from seeds derived from i). */
  readWrite?: Omit<ReadWriteMix, 'seed'>,
): Promise<{
  started: WaitersStarted[];
  stopped: WaitersStopped[];
  snapshot: ServerSnapshot;
  seconds: number;
  /** Acquisitions in the window, all processes. */
  handoffs: number;
}> {
  const { config, stats, lockServer } = context;
  const settings = config.manyWaiters;
  await stats.command('FLUSHALL');
  await WorkerPool.all(workers, () => ({
    kind: 'open',
    lib,
    url: lockServer.url,
    warmupPairs: config.warmupPairs,
    ...(readWrite?.lock === 'read-write' ? { warmReadWrite: true } : {}),
  }));
  try {
    const started = await WorkerPool.all<WaitersStarted>(workers, (worker) => ({
      kind: 'waiters-start',
      key,
      waiters: share(waiters, workers.length, worker.index),
      holdMs: config.holdMs,
      ttlMs: config.ttlMs,
      settleMs: settings.settleMs,
      ...(readWrite === undefined ? {} : { readWrite: { ...readWrite, seed: worker.index } }),
    }));
    await stats.reset();
    const windowStartUs = nowUs();
    await new Promise((resolve) => setTimeout(resolve, settings.windowMs));
    const snapshot = await stats.snapshot();
    const windowEndUs = nowUs();
    const stopped = await WorkerPool.all<WaitersStopped>(workers, () => ({
      kind: 'waiters-stop',
      windowStartUs,
      windowEndUs,
      stopTimeoutMs: settings.stopTimeoutMs,
    }));
    return {
      started,
      stopped,
      snapshot,
      seconds: (windowEndUs - windowStartUs) / 1e6,
      handoffs: stopped.reduce((total, s) => total + s.handoffsInWindow, 0),
    };
  } finally {
    await WorkerPool.all(workers, () => ({ kind: 'close' }));
  }
}

/** Waiters for process `index` of `processes` when `total` are spread as evenly as possible. */
function share(total: number, processes: number, index: number): number {
  return Math.floor(total / processes) + (index < total % processes ? 1 : 0);
}

export function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / Math.max(1, values.length);
}
