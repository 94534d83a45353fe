/** redlock@4 (node-redlock's last release) with its default settings: 10 retries, 200 ± 100 ms apart. */
import Redlock from 'redlock';
import { closeIORedis, connectIORedis, installedVersion, isClosing } from './connections.js';
import type { LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'redlock4',
  label: `redlock@${installedVersion('redlock')}`,
  waiting: 'poll: 10 retries, 200 ± 100 ms apart',
  async open(url) {
    const client = await connectIORedis(url);
    const redlock = new Redlock([client]);
    redlock.on('clientError', (error) => {
      if (!isClosing(client)) console.error(`redlock4: ${String(error)}`);
    });
    const lockAll = async (resource: string | readonly string[], ttlMs: number) => {
      try {
        const lock = await redlock.lock(resource, ttlMs);
        return {
          fencingToken: undefined,
          release: async () => {
            await lock.unlock();
          },
        };
      } catch (error) {
        if (error instanceof Redlock.LockError) return null;
        throw error;
      }
    };
    return {
      acquireMany: (keys, ttlMs) => lockAll(keys, ttlMs),
      acquire: (key, ttlMs) => lockAll(key, ttlMs),
      ping: async () => {
        await client.ping();
      },
      close: () => closeIORedis(client),
    };
  },
};
