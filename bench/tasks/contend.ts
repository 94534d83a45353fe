/**
 * Contended: acquire, hold, release, straight back to acquire, until the window ends. While it
 * holds the lock the worker increments an occupancy counter on a separate checker server (and
 * decrements it before releasing), so two holders at once show up as a value above 1 whatever the
 * library believes. With `limit` set it takes a semaphore permit instead; above `limit` is wrong.
 * With `readWrite` set each turn reads or writes (a seeded mix, the same for every library): a
 * reader adds 1 to the counter and a writer WRITER_WEIGHT, so the value a holder's increment
 * returns shows whether a writer was in together with anyone else, and how many readers were in.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs, sleepUntilUs } from '../clock.js';
import { closeIORedis, connectIORedis } from '../libs/connections.js';
import type { HeldLock, LockClient } from '../libs/types.js';
import { type Operation, operationMix, WRITER_WEIGHT } from '../mix.js';
import type { ContendResult, ReadWriteTally, Task } from '../protocol.js';

/** Pause after an unexpected error before trying again, so a broken library cannot spin. */
const ERROR_PAUSE_MS = 10;

type ContendTask = Extract<Task, { kind: 'contend' }>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export async function runContend(client: LockClient, task: ContendTask): Promise<ContendResult> {
  const checker = await connectIORedis(task.checkerUrl);
  const result: Mutable<ContendResult> = {
    wantUs: [],
    acquiredUs: [],
    releaseStartUs: [],
    releaseEndUs: [],
    fence: [],
    giveUps: 0,
    errors: 0,
    lastError: undefined,
    maxOccupancy: 0,
  };
  const stop = new AbortController();
  await sleepUntilUs(task.startAtUs);
  const stopTimer = setTimeout(() => stop.abort(), (task.endAtUs - nowUs()) / 1000);

  const { limit, readWrite } = task;
  const tally: Mutable<ReadWriteTally> | undefined = readWrite
    ? { reads: [], writerOverlaps: 0, maxReaders: 0 }
    : undefined;
  if (tally) result.readWrite = tally;
  const draw = readWrite ? operationMix(readWrite.seed, readWrite.readPercent) : undefined;
  const acquire = (signal: AbortSignal, operation: Operation | undefined) => {
    if (operation && readWrite?.lock === 'read-write') {
      const take = operation === 'read' ? client.acquireRead : client.acquireWrite;
      if (!take) throw new Error('this library has no read-write lock');
      return take.call(client, task.key, task.ttlMs, signal);
    }
    if (limit === undefined) return client.acquire(task.key, task.ttlMs, signal);
    if (!client.acquirePermit) throw new Error('this library has no semaphore');
    return client.acquirePermit(task.key, limit, task.ttlMs, signal);
  };
  /** Reads the checker's value right after this holder's increment. */
  const check = (value: number) => {
    result.maxOccupancy = Math.max(result.maxOccupancy, value);
    if (!tally) return;
    tally.maxReaders = Math.max(tally.maxReaders, value % WRITER_WEIGHT);
    // Readers alone stay below WRITER_WEIGHT and a writer alone is exactly it: anything above is
    // a writer with someone else.
    if (value > WRITER_WEIGHT) tally.writerOverlaps++;
  };

  const loop = async () => {
    while (nowUs() < task.endAtUs) {
      const operation = draw?.();
      const weight = operation === 'write' ? WRITER_WEIGHT : 1;
      const wantUs = nowUs();
      let held: HeldLock | null = null;
      while (!held && !stop.signal.aborted) {
        try {
          held = await acquire(stop.signal, operation);
          if (!held) result.giveUps++;
        } catch (error) {
          if (stop.signal.aborted) break;
          result.errors++;
          result.lastError = String(error);
          await sleep(ERROR_PAUSE_MS);
        }
      }
      if (!held) return;
      const acquiredUs = nowUs();
      // The INCR's round trip overlaps the hold, so the check adds one round trip (the DECR, which
      // must land before the release) to the hold instead of two.
      const occupancy = checker.incrby(task.occupancyKey, weight);
      await sleep(task.holdMs);
      check(await occupancy);
      await checker.decrby(task.occupancyKey, weight);
      const releaseStartUs = nowUs();
      await held.release();
      const releaseEndUs = nowUs();
      if (acquiredUs > task.endAtUs) return;
      result.wantUs.push(wantUs);
      result.acquiredUs.push(acquiredUs);
      result.releaseStartUs.push(releaseStartUs);
      result.releaseEndUs.push(releaseEndUs);
      result.fence.push(held.fencingToken ?? -1);
      tally?.reads.push(operation === 'read');
    }
  };

  // A library that cannot cancel a pending acquire finishes it on its own schedule (seconds, for
  // some): wait for it at most drainMs past the window; its late result is not counted anyway.
  const running = loop();
  running.catch(() => {});
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = new Promise<'drained'>((resolve) => {
    drainTimer = setTimeout(
      () => resolve('drained'),
      (task.endAtUs - nowUs()) / 1000 + task.drainMs,
    );
  });
  try {
    await Promise.race([running, drained]);
  } finally {
    clearTimeout(stopTimer);
    clearTimeout(drainTimer);
    await closeIORedis(checker);
  }
  return result;
}
