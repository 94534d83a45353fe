/**
 * latchkey on either adapter: its default mutex, and its semaphore and read-write lock for the
 * scenarios that use them; default locker options, fencing and auto-refresh on.
 */
import type { Locker } from '../../src/index.js';
import { LockTimeoutError } from '../../src/index.js';
import type { HeldLock, LockClient } from './types.js';

export const LATCHKEY_WAITING =
  'FIFO queue in Redis + one PUBLISH to the next waiter (waitMs 10 s)';

/** Waits for `hold`, mapping latchkey's timeout to the `null` of a library that gave up. */
async function held(
  hold: Promise<{ readonly fencingToken: number; release(): Promise<unknown> }>,
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
  return {
    acquire: (key, ttlMs, signal) =>
      held(locker.acquire(key, signal ? { ttlMs, signal } : { ttlMs })),
    acquirePermit: (key, limit, ttlMs, signal) =>
      held(locker.semaphore(key, { limit }).acquire(signal ? { ttlMs, signal } : { ttlMs })),
    acquireRead: (key, ttlMs, signal) =>
      held(locker.readWrite(key).acquireRead(signal ? { ttlMs, signal } : { ttlMs })),
    acquireWrite: (key, ttlMs, signal) =>
      held(locker.readWrite(key).acquireWrite(signal ? { ttlMs, signal } : { ttlMs })),
    ping: async () => {
      await ping();
    },
    async close() {
      await locker.close();
      await close();
    },
  };
}
