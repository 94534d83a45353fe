/** How the tests connect each adapter under test to a server; used in-process and by workers. */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import { fromNodeRedis } from '../../src/backends/redis/adapters/node-redis.js';
import type { ConnectAdapter } from '../../src/testing/types.js';

export const connectIORedis: ConnectAdapter = async (url) => {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', () => {}); // reconnects are part of the tests (CLIENT KILL)
  await client.connect();
  return {
    adapter: fromIORedis(client),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
};

export const connectNodeRedis: ConnectAdapter = async (url) => {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromNodeRedis(client),
    close: async () => {
      await client.close().catch(() => client.destroy());
    },
  };
};

export const ADAPTERS = { ioredis: connectIORedis, 'node-redis': connectNodeRedis } as const;
