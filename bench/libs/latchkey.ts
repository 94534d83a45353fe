/**
 * latchkey on either adapter: its default mutex, and its semaphore and read-write lock for the
 * scenarios that use them; default locker options, fencing and auto-refresh on.
 */

import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Locker, ReentrantLock } from '../../src/index.js';
import { LockTimeoutError } from '../../src/index.js';
import type { HeldLock, LockClient, NestedHold, ReentrantDriver } from './types.js';

export const LATCHKEY_WAITING =
  'FIFO queue in Redis + one PUBLISH to the next waiter (waitMs 10 s)';

/** Waits for `hold`, mapping latchkey's timeout to the `null` of a library that gave up. */
async function held(
  hold: Promise<{ readonly fencingToken: number | undefined; release(): Promise<unknown> }>,
): Promise<HeldLock | null> {
  try {
    const lock = await hold;
    return {
      fencingToken: lock.fencingToken,
      release: async () => {
        await lock.release();
      },
    };
  } catch (error) {
    if (error instanceof LockTimeoutError) return null;
    throw error;
  }
}

export function latchkeyClient(
  locker: Locker,
  ping: () => Promise<unknown>,
  close: () => Promise<void>,
): LockClient {
  /** This client's owner id (reentrant lock) and candidate value (election). */
  const owner = randomUUID();
  return {
    acquire: (key, ttlMs, signal) =>
      held(locker.acquire(key, signal ? { ttlMs, signal } : { ttlMs })),
    acquirePermit: (key, limit, ttlMs, signal) =>
      held(locker.semaphore(key, { limit }).acquire(signal ? { ttlMs, signal } : { ttlMs })),
    acquireRead: (key, ttlMs, signal) =>
      held(locker.readWrite(key).acquireRead(signal ? { ttlMs, signal } : { ttlMs })),
    acquireWrite: (key, ttlMs, signal) =>
      held(locker.readWrite(key).acquireWrite(signal ? { ttlMs, signal } : { ttlMs })),
    acquireReentrant: async (key, ttlMs, signal) => {
      const lock = locker.reentrant(key);
      const first = await held(lock.acquire(signal ? { ttlMs, signal, owner } : { ttlMs, owner }));
      if (!first) return null;
      const again = await held(lock.acquire({ ttlMs, owner, waitMs: 0 }));
      return {
        fencingToken: first.fencingToken,
        release: async () => {
          await again?.release();
          await first.release();
        },
      };
    },
    campaign: async (key, ttlMs, signal) => {
      const options = signal ? { ttlMs, signal } : { ttlMs };
      const leadership = await held(
        locker
          .election(key)
          .campaign(owner, options)
          .then((leader) => ({
            fencingToken: leader.fencingToken,
            release: () => leader.resign(),
          })),
      );
      return leadership;
    },
    acquireMany: (keys, ttlMs, signal) =>
      held(
        locker
          .multi(keys)
          .acquire(signal ? { ttlMs, signal } : { ttlMs })
          .then((hold) => ({ fencingToken: undefined, release: () => hold.release() })),
      ),
    reentrant: reentrantDriver(locker),
    ping: async () => {
      await ping();
    },
    async close() {
      await locker.close();
      await close();
    },
  };
}

/** The reentrant lock as scenario 8 drives it: default options apart from the ttl. */
function reentrantDriver(locker: Locker): ReentrantDriver {
  return {
    async ownerPair(key, owner, ttlMs) {
      const hold = await locker.reentrant(key).acquire({ ttlMs, owner });
      await hold.release();
    },
    async holdAsOwner(key, owner, ttlMs) {
      const hold = await locker.reentrant(key).acquire({ ttlMs, owner });
      return async () => {
        await hold.release();
      };
    },
    enterWithLock: (key, ttlMs) => enterWithLock(locker.reentrant(key), ttlMs),
  };
}

/**
 * Runs `lock.withLock` with a body that waits for `leave`. The body makes an AsyncResource, which
 * carries the body's async context (the hold), so later tasks can run a nested acquire in it.
 */
async function enterWithLock(lock: ReentrantLock, ttlMs: number): Promise<NestedHold> {
  let leave!: () => void;
  const left = new Promise<void>((resolve) => {
    leave = resolve;
  });
  let finished: Promise<void> | undefined;
  const scope = await new Promise<AsyncResource>((resolve, reject) => {
    finished = lock.withLock(
      async () => {
        resolve(new AsyncResource('bench:reentrant'));
        await left;
      },
      { ttlMs },
    );
    finished.catch(reject);
  });
  return {
    nestedPair: () =>
      scope.runInAsyncScope(async () => {
        const nested = await lock.acquire();
        await nested.release();
      }),
    async leave() {
      leave();
      await finished;
    },
  };
}
