import { createClient, createCluster } from 'redis';
import { createLocker } from '../../src/backends/redis/adapters/node-redis.js';
import { clusterSeed, installedVersion } from './connections.js';
import { LATCHKEY_WAITING, latchkeyClient } from './latchkey.js';
import type { LockLibrary } from './types.js';

export const library: LockLibrary = {
  id: 'latchkey-node-redis',
  label: `latchkey (redis@${installedVersion('redis')})`,
  waiting: LATCHKEY_WAITING,
  async open(url) {
    const client = createClient({ url });
    client.on('error', (error: unknown) => console.error(`node-redis: ${String(error)}`));
    await client.connect();
    return latchkeyClient(
      createLocker(client),
      () => client.ping(),
      async () => {
        await client.close().catch(() => client.destroy());
      },
    );
  },
  async openCluster(url) {
    const client = createCluster({ rootNodes: [{ socket: clusterSeed(url) }] });
    client.on('error', (error: unknown) => console.error(`node-redis cluster: ${String(error)}`));
    await client.connect();
    return latchkeyClient(
      createLocker(client),
      async () => {
        await client.sendCommand(undefined, true, ['PING']);
      },
      async () => {
        await client.close().catch(() => client.destroy());
      },
    );
  },
};
