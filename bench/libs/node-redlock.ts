/** What node-redlock 5's API (redlock@5 and its fork @sesamecare-oss/redlock) share here. */
import type { HeldLock } from './types.js';

interface Redlock5Api {
  acquire(resources: string[], ttlMs: number): Promise<{ release(): Promise<unknown> }>;
}

/**
 * Locks every key of `keys` (all or none) with the library's default retries; `null` when its
 * retry budget ran out (`gaveUp` recognises the library's ExecutionError).
 */
export function acquireAllWith(
  redlock: Redlock5Api,
  gaveUp: (error: unknown) => boolean,
): (keys: readonly string[], ttlMs: number) => Promise<HeldLock | null> {
  return async (keys, ttlMs) => {
    try {
      const lock = await redlock.acquire([...keys], ttlMs);
      return {
        fencingToken: undefined,
        release: async () => {
          await lock.release();
        },
      };
    } catch (error) {
      if (gaveUp(error)) return null;
      throw error;
    }
  };
}
