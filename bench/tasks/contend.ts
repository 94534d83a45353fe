/**
 * Contended: acquire, hold, release, straight back to acquire, until the window ends. While it
 * holds the lock the worker increments an occupancy counter on a separate checker server (and
 * decrements it before releasing), so two holders at once show up as a value above 1 whatever the
 * library believes. With `limit` set it takes a semaphore permit instead; above `limit` is wrong.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs, sleepUntilUs } from '../clock.js';
import { closeIORedis, connectIORedis } from '../libs/connections.js';
import type { HeldLock, LockClient } from '../libs/types.js';
import type { ContendResult, Task } from '../protocol.js';

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

  const { limit } = task;
  const acquire = (signal: AbortSignal) => {
    if (limit === undefined) return client.acquire(task.key, task.ttlMs, signal);
    if (!client.acquirePermit) throw new Error('this library has no semaphore');
    return client.acquirePermit(task.key, limit, task.ttlMs, signal);
  };

  const loop = async () => {
    while (nowUs() < task.endAtUs) {
      const wantUs = nowUs();
      let held: HeldLock | null = null;
      while (!held && !stop.signal.aborted) {
        try {
          held = await acquire(stop.signal);
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
      const occupancy = checker.incr(task.occupancyKey);
      await sleep(task.holdMs);
      result.maxOccupancy = Math.max(result.maxOccupancy, await occupancy);
      await checker.decr(task.occupancyKey);
      const releaseStartUs = nowUs();
      await held.release();
      const releaseEndUs = nowUs();
      if (acquiredUs > task.endAtUs) return;
      result.wantUs.push(wantUs);
      result.acquiredUs.push(acquiredUs);
      result.releaseStartUs.push(releaseStartUs);
      result.releaseEndUs.push(releaseEndUs);
      result.fence.push(held.fencingToken ?? -1);
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
