/**
 * redlock-universal's single-instance lock (`createLock`) and, for several keys at once, its
 * `LockManager.acquireBatch` (all or none, in one script), both with their defaults: 3 retries,
 * 100 ms apart.
 */

import type { Cluster, Redis } from 'ioredis';
import { createLock, IoredisAdapter, LockAcquisitionError, LockManager } from 'redlock-universal';
import { closeIORedis, connectIORedis, installedVersion } from './connections.js';
import type { LockClient, LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'redlock-universal',
  label: `redlock-universal@${installedVersion('redlock-universal')}`,
  waiting: 'poll: 3 retries, 100 ms apart',
  open: async (url) => redlockUniversalClient(await connectIORedis(url)),
};

function redlockUniversalClient(client: Redis | Cluster): LockClient {
  const adapter = new IoredisAdapter(client);
  // A lock object is bound to one key and ttl; make each once, as an application would.
  const locks = new Map<string, ReturnType<typeof createLock>>();
  const lockFor = (key: string, ttl: number) => {
    const id = `${key}\n${ttl}`;
    let lock = locks.get(id);
    if (!lock) {
      lock = createLock({ adapter, key, ttl });
      locks.set(id, lock);
    }
    return lock;
  };
  // One manager per client, as its README's batch example makes one (default retries).
  const manager = new LockManager({ nodes: [adapter] });
  return {
    async acquireMany(keys, ttlMs) {
      try {
        const handles = await manager.acquireBatch([...keys], { ttl: ttlMs });
        return {
          fencingToken: undefined,
          release: async () => {
            await manager.releaseBatch(handles);
          },
        };
      } catch (error) {
        if (error instanceof LockAcquisitionError) return null;
        throw error;
      }
    },
    async acquire(key, ttlMs) {
      const lock = lockFor(key, ttlMs);
      try {
        const handle = await lock.acquire();
        return {
          fencingToken: undefined,
          release: async () => {
            await lock.release(handle);
          },
        };
      } catch (error) {
        if (error instanceof LockAcquisitionError) return null;
        throw error;
      }
    },
    ping: async () => {
      await client.ping();
    },
    close: () => closeIORedis(client),
  };
}
