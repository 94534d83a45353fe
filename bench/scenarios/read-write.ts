/**
 * Scenario 6, read-write: a read-heavy workload on one name. C processes, each turn a read with
 * probability readPercent % (a seeded mix per process, the same whichever lock runs it), hold
 * 1 ms, straight back. latchkey's read-write lock runs against latchkey's mutex taken for every
 * operation, reads and writes alike, on both adapters; for each C the runs go one after another
 * (rotating the order per C), each in a fresh window. The checker weights a writer's increment
 * (tasks/contend.ts), so a writer in together with anyone shows up whatever the lock believes.
 *
 * Then the growth part: W waiters on the read-write lock with the same mix, each going back to
 * the end of the line after its turn (as in scenario 4), and what Redis does per grant (per
 * reader or writer let in) at each W.
 */
import type { BenchContext } from '../context.js';
import { rotated } from '../context.js';
import { type LibraryId, READ_WRITE_LIBRARY_IDS } from '../libs/index.js';
import type { ContendResult } from '../protocol.js';
import { totalCalls } from '../redis-stats.js';
import { per, round, summarize } from '../stats.js';
import { contendOnce } from './contended.js';
import { analyzeContended } from './contended-analysis.js';
import { mean, waitersOnce } from './many-waiters.js';

/** `'read-write'`: reads take the read lock, writes the write lock; `'mutex'`: both the mutex. */
export type ReadWriteLockKind = 'read-write' | 'mutex';

export interface ReadWriteResult {
  readonly lib: LibraryId;
  readonly lock: ReadWriteLockKind;
  readonly contenders: number;
  readonly readPercent: number;
  readonly windowMs: number;
  /** Reads and writes together. */
  readonly acquisitions: number;
  readonly acquisitionsPerSec: number;
  readonly readsPerSec: number;
  readonly writesPerSec: number;
  readonly readWaitP50Ms: number;
  readonly readWaitP99Ms: number;
  readonly readWaitMaxMs: number;
  readonly writeWaitP50Ms: number;
  readonly writeWaitP99Ms: number;
  readonly writeWaitMaxMs: number;
  /** Acquisitions (reads and writes) of the process with the fewest / the most. */
  readonly perContenderMin: number;
  readonly perContenderMax: number;
  readonly fairness: number;
  /** All commands the lock server ran per acquisition, including those scripts called. */
  readonly commandsPerAcquisition: number;
  readonly redisCpuUsPerAcquisition: number;
  /** Increments that showed a writer together with anyone else: must be 0. */
  readonly writerOverlaps: number;
  /** Most readers the checker showed at once (1 for the mutex). */
  readonly maxReaders: number;
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  readonly commands: Record<string, number>;
}

export interface ReadWriteWaitersResult {
  readonly lib: LibraryId;
  readonly waiters: number;
  readonly readPercent: number;
  readonly windowMs: number;
  /** Readers and writers let in during the window. */
  readonly grants: number;
  readonly grantsPerSec: number;
  /** Share of the grants that were reads. */
  readonly readShare: number;
  readonly commandsPerGrant: number;
  readonly redisCpuUsPerGrant: number;
  readonly commandsPerSec: number;
  /** Share of one core the lock server used during the window. */
  readonly redisCpuShare: number;
  readonly heapBytesPerWaiter: number;
  readonly giveUps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  readonly unfinished: number;
  readonly commands: Record<string, number>;
}

const LOCKS: readonly ReadWriteLockKind[] = ['read-write', 'mutex'];

export async function runReadWrite(context: BenchContext): Promise<ReadWriteResult[]> {
  const out: ReadWriteResult[] = [];
  const { contenders: counts, readPercent, durationMs } = context.config.readWrite;
  const runs = context.libs
    .filter((lib) => READ_WRITE_LIBRARY_IDS.includes(lib))
    .flatMap((lib) => LOCKS.map((lock) => ({ lib, lock })));
  for (const [round_, contenders] of counts.entries()) {
    for (const { lib, lock } of rotated(runs, round_)) {
      context.log(`read-write: ${readPercent}% reads, C=${contenders} ${lib} ${lock}`);
      const { results, snapshot, windowUs } = await contendOnce(
        context,
        lib,
        contenders,
        durationMs,
        `rw-${lock}`,
        { readWrite: { lock, readPercent } },
      );
      const figures = analyzeContended(results, windowUs);
      const waits = splitWaits(results);
      const read = summarize(waits.read, 1000);
      const write = summarize(waits.write, 1000);
      const seconds = windowUs / 1e6;
      const perAcquisition = per(figures.acquisitions);
      out.push({
        lib,
        lock,
        contenders,
        readPercent,
        windowMs: windowUs / 1000,
        acquisitions: figures.acquisitions,
        acquisitionsPerSec: figures.acquisitionsPerSec,
        readsPerSec: round(read.count / seconds),
        writesPerSec: round(write.count / seconds),
        readWaitP50Ms: round(read.p50),
        readWaitP99Ms: round(read.p99),
        readWaitMaxMs: round(read.max),
        writeWaitP50Ms: round(write.p50),
        writeWaitP99Ms: round(write.p99),
        writeWaitMaxMs: round(write.max),
        perContenderMin: figures.perContenderMin,
        perContenderMax: figures.perContenderMax,
        fairness: figures.fairness,
        commandsPerAcquisition: perAcquisition(totalCalls(snapshot.calls)),
        redisCpuUsPerAcquisition: perAcquisition(snapshot.cpuSeconds * 1e6),
        writerOverlaps: waits.writerOverlaps,
        maxReaders: waits.maxReaders,
        giveUps: figures.giveUps,
        errors: figures.errors,
        lastError: figures.lastError,
        commands: Object.fromEntries(snapshot.calls),
      });
    }
  }
  return out;
}

/** Waits in µs of the reads and of the writes, and the checker's findings over all processes. */
function splitWaits(results: readonly ContendResult[]): {
  read: number[];
  write: number[];
  writerOverlaps: number;
  maxReaders: number;
} {
  const read: number[] = [];
  const write: number[] = [];
  let writerOverlaps = 0;
  let maxReaders = 0;
  for (const result of results) {
    const tally = result.readWrite;
    if (!tally) throw new Error('a read-write run returned no read-write tally');
    result.acquiredUs.forEach((acquired, i) => {
      (tally.reads[i] ? read : write).push(acquired - (result.wantUs[i] ?? acquired));
    });
    writerOverlaps += tally.writerOverlaps;
    maxReaders = Math.max(maxReaders, tally.maxReaders);
  }
  return { read, write, writerOverlaps, maxReaders };
}

export async function runReadWriteWaiters(
  context: BenchContext,
): Promise<ReadWriteWaitersResult[]> {
  const { readPercent, waiters: counts } = context.config.readWrite;
  const workers = context.pool.take(context.config.manyWaiters.processes);
  const libs = context.libs.filter((lib) => READ_WRITE_LIBRARY_IDS.includes(lib));
  const out: ReadWriteWaitersResult[] = [];
  for (const [round_, waiters] of counts.entries()) {
    for (const lib of rotated(libs, round_)) {
      context.log(`read-write waiters: ${readPercent}% reads, W=${waiters} ${lib}`);
      const { started, stopped, snapshot, seconds, handoffs } = await waitersOnce(
        context,
        workers,
        lib,
        waiters,
        `bench:rw-waiters:${lib}:${waiters}`,
        { lock: 'read-write', readPercent },
      );
      const perGrant = per(handoffs);
      const calls = totalCalls(snapshot.calls);
      const reads = stopped.reduce((total, s) => total + s.readsInWindow, 0);
      out.push({
        lib,
        waiters,
        readPercent,
        windowMs: round(seconds * 1000),
        grants: handoffs,
        grantsPerSec: round(handoffs / seconds),
        readShare: round(handoffs > 0 ? reads / handoffs : Number.NaN),
        commandsPerGrant: perGrant(calls),
        redisCpuUsPerGrant: perGrant(snapshot.cpuSeconds * 1e6),
        commandsPerSec: round(calls / seconds),
        redisCpuShare: round(snapshot.cpuSeconds / seconds),
        heapBytesPerWaiter: round(mean(started.map((s) => s.heapBytesPerWaiter))),
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
