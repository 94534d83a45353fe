/** @sesamecare-oss/redlock (the TypeScript fork of node-redlock on ioredis 5+) with its defaults. */
import { ExecutionError, Redlock } from '@sesamecare-oss/redlock';
import { closeIORedis, connectIORedis, installedVersion } from './connections.js';
import { acquireAllWith } from './node-redlock.js';
import type { LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'sesamecare-redlock',
  label: `@sesamecare-oss/redlock@${installedVersion('@sesamecare-oss/redlock')}`,
  waiting: 'poll: 10 retries, 200 ± 100 ms apart',
  async open(url) {
    const client = await connectIORedis(url);
    const redlock = new Redlock([client]);
    redlock.on('error', () => {}); // each failed attempt is emitted as `error`, as in node-redlock 5
    const acquireAll = acquireAllWith(redlock, (error) => error instanceof ExecutionError);
    return {
      acquire: (key, ttlMs) => acquireAll([key], ttlMs),
      acquireMany: (keys, ttlMs) => acquireAll(keys, ttlMs),
      ping: async () => {
        await client.ping();
      },
      close: () => closeIORedis(client),
    };
  },
};
