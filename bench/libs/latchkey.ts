/** latchkey's default mutex, on either adapter: default locker options, fencing and auto-refresh on. */
import type { Locker } from '../../src/index.js';
import { LockTimeoutError } from '../../src/index.js';
import type { LockClient } from './types.js';

export const LATCHKEY_WAITING =
  'FIFO queue in Redis + one PUBLISH to the next waiter (waitMs 10 s)';

export function latchkeyClient(
  locker: Locker,
  ping: () => Promise<unknown>,
  close: () => Promise<void>,
): LockClient {
  return {
    async acquire(key, ttlMs, signal) {
      try {
        const lock = await locker.acquire(key, signal ? { ttlMs, signal } : { ttlMs });
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
    },
    async acquirePermit(key, limit, ttlMs, signal) {
      try {
        const permit = await locker
          .semaphore(key, { limit })
          .acquire(signal ? { ttlMs, signal } : { ttlMs });
        return {
          fencingToken: permit.fencingToken,
          release: async () => {
            await permit.release();
          },
        };
      } catch (error) {
        if (error instanceof LockTimeoutError) return null;
        throw error;
      }
    },
    ping: async () => {
      await ping();
    },
    async close() {
      await locker.close();
      await close();
    },
  };
}
