/** redlock@5.0.0-beta.2 (node-redlock's main branch) with its default settings. */
import Redlock, { ExecutionError } from 'redlock5';
import { closeIORedis, connectIORedis, installedVersion } from './connections.js';
import { acquireAllWith } from './node-redlock.js';
import type { LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'redlock5',
  label: `redlock@${installedVersion('redlock5')}`,
  waiting: 'poll: 10 retries, 200 ± 100 ms apart',
  async open(url) {
    const client = await connectIORedis(url);
    const redlock = new Redlock([client]);
    // Every failed attempt is emitted as an `error` event (ResourceLockedError); the README tells
    // users to listen for it, since an EventEmitter without an `error` listener throws.
    redlock.on('error', () => {});
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
