/**
 * Contended: acquire, hold, release, straight back to acquire, until the window ends. While it
 * holds the lock the worker increments an occupancy counter on a separate checker server (and
 * decrements it before releasing), so two holders at once show up as a value above 1 whatever the
 * library believes. With `limit` set it takes a semaphore permit instead; above `limit` is wrong.
 * With `readWrite` set each turn reads or writes (a seeded mix, the same for every library): a
 * reader adds 1 to the counter and a writer WRITER_WEIGHT, so the value a holder's increment
 * returns shows whether a writer was in together with anyone else, and how many readers were in.
 * With `family` set each turn takes that kind instead (tasks/family in protocol.ts); a multi-lock
 * turn increments the counter of each of its names, and any value above 1 is two holders of a name.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs, sleepUntilUs } from '../clock.js';
import { closeIORedis, connectIORedis } from '../libs/connections.js';
import type { HeldLock, LockClient } from '../libs/types.js';
import { namePicker, type Operation, operationMix, WRITER_WEIGHT } from '../mix.js';
import type { ContendResult, FamilyKind, ReadWriteTally, Task } from '../protocol.js';

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
  const { family } = task;
  const pickNames =
    family?.kind === 'multi' ? namePicker(family.seed, family.names, family.pick) : undefined;
  const acquire = (
    signal: AbortSignal,
    operation: Operation | undefined,
    names: readonly number[] | undefined,
  ) => {
    if (family) return acquireFamily(client, family.kind, task.key, names, task.ttlMs, signal);
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
      const names = pickNames?.();
      const weight = operation === 'write' ? WRITER_WEIGHT : 1;
      const counters = names
        ? names.map((name) => `${task.occupancyKey}:${name}`)
        : [task.occupancyKey];
      const wantUs = nowUs();
      let held: HeldLock | null = null;
      while (!held && !stop.signal.aborted) {
        try {
          held = await acquire(stop.signal, operation, names);
          if (!held) result.giveUps++;
        } catch (error) {
          if (stop.signal.aborted) break;
          result.errors++;
          result.lastError = String(error);
          await sleep(ERROR_PAUSE_MS);
        }
      }
      if (!held) return;
      if (stop.signal.aborted) {
        // A library that could not cancel its acquire got the lock after the window, perhaps
        // after the drain closed the checker: not counted, so only give it back.
        await held.release().catch(() => {});
        return;
      }
      const acquiredUs = nowUs();
      // The INCR's round trip overlaps the hold, so the check adds one round trip (the DECR, which
      // must land before the release) to the hold instead of two.
      const occupancy = Promise.all(counters.map((counter) => checker.incrby(counter, weight)));
      // The drain may close the checker during the hold: the await below throws then, and the
      // loop's rejection is handled; this keeps the rejection from counting as unhandled before.
      occupancy.catch(() => {});
      await sleep(task.holdMs);
      check(Math.max(...(await occupancy)));
      await Promise.all(counters.map((counter) => checker.decrby(counter, weight)));
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

/** One turn of a lock-family run: the kind's acquisition through the library's own API. */
export function acquireFamily(
  client: LockClient,
  kind: FamilyKind,
  key: string,
  names: readonly number[] | undefined,
  ttlMs: number,
  signal?: AbortSignal,
): Promise<HeldLock | null> {
  const missing = (what: string) => new Error(`this library has no ${what}`);
  switch (kind) {
    case 'reentrant':
      if (!client.acquireReentrant) throw missing('reentrant lock');
      return client.acquireReentrant(key, ttlMs, signal);
    case 'election':
      if (!client.campaign) throw missing('leader election');
      return client.campaign(key, ttlMs, signal);
    case 'multi':
      if (!client.acquireMany) throw missing('multi-key lock');
      return client.acquireMany(
        (names ?? []).map((name) => `${key}.${name}`),
        ttlMs,
        signal,
      );
  }
}
