/**
 * redis-semaphore's Mutex and Semaphore with their defaults: retry every 10 ms, acquireTimeout 10 s,
 * refresh on. (Its FairSemaphore was removed in 5.x: the README says Semaphore is fair now.)
 */

import type { Cluster, Redis } from 'ioredis';
import { Mutex, Semaphore, TimeoutError } from 'redis-semaphore';
import {
  closeIORedis,
  connectIORedis,
  connectIORedisCluster,
  installedVersion,
} from './connections.js';
import type { LockClient, LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'redis-semaphore',
  label: `redis-semaphore@${installedVersion('redis-semaphore')}`,
  waiting: 'poll every 10 ms, give up after 10 s',
  open: async (url) => semaphoreClient(await connectIORedis(url)),
  openCluster: async (url) => semaphoreClient(await connectIORedisCluster(url)),
};

function semaphoreClient(client: Redis | Cluster): LockClient {
  return {
    async acquire(key, ttlMs, signal) {
      const mutex = new Mutex(client, key, { lockTimeout: ttlMs });
      try {
        await mutex.acquire(signal);
      } catch (error) {
        if (error instanceof TimeoutError) return null;
        throw error;
      }
      return { fencingToken: undefined, release: () => mutex.release() };
    },
    async acquirePermit(key, limit, ttlMs, signal) {
      const semaphore = new Semaphore(client, key, limit, { lockTimeout: ttlMs });
      try {
        await semaphore.acquire(signal);
      } catch (error) {
        if (error instanceof TimeoutError) return null;
        throw error;
      }
      return { fencingToken: undefined, release: () => semaphore.release() };
    },
    ping: async () => {
      await client.ping();
    },
    close: () => closeIORedis(client),
  };
}
