/** redis-semaphore's Mutex with its defaults: retry every 10 ms, acquireTimeout 10 s, refresh on. */
import { Mutex, TimeoutError } from 'redis-semaphore';
import { closeIORedis, connectIORedis, installedVersion } from './connections.js';
import type { LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'redis-semaphore',
  label: `redis-semaphore@${installedVersion('redis-semaphore')}`,
  waiting: 'poll every 10 ms, give up after 10 s',
  async open(url) {
    const client = await connectIORedis(url);
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
      ping: async () => {
        await client.ping();
      },
      close: () => closeIORedis(client),
    };
  },
};
