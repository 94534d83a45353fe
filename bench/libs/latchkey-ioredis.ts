import { createLocker } from '../../src/backends/redis/adapters/ioredis.js';
import {
  closeIORedis,
  connectIORedis,
  connectIORedisCluster,
  installedVersion,
} from './connections.js';
import { LATCHKEY_WAITING, latchkeyClient } from './latchkey.js';
import type { LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'latchkey-ioredis',
  label: `latchkey (ioredis@${installedVersion('ioredis')})`,
  waiting: LATCHKEY_WAITING,
  async open(url) {
    const client = await connectIORedis(url);
    return latchkeyClient(
      createLocker(client),
      () => client.ping(),
      () => closeIORedis(client),
    );
  },
  async openCluster(url) {
    const client = await connectIORedisCluster(url);
    return latchkeyClient(
      createLocker(client),
      async () => {
        await client.ping();
      },
      () => closeIORedis(client),
    );
  },
};
