/** How the tests connect each adapter under test to a server; used in-process and by workers. */
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import {
  fromNodeRedis,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import type { ConnectAdapter } from '../../src/testing/types.js';
import { SENTINEL_NAME } from './redis-sentinel.js';

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

/** The address and the (decoded) user and password in `url`, for clients that take them apart. */
function partsOf(url: string) {
  const { hostname, port, username, password } = new URL(url);
  return {
    host: hostname,
    port: Number(port),
    auth: {
      ...(username && { username: decodeURIComponent(username) }),
      ...(password && { password: decodeURIComponent(password) }),
    },
  };
}

/** Connects `client` (errors are part of the tests) and wraps it for the suite. */
async function ioredisConnection(client: Redis | Cluster) {
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromIORedis(client),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

async function nodeRedisConnection(client: {
  on(event: 'error', listener: () => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
}) {
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromNodeRedis(client as unknown as NodeRedisClient),
    close: async () => {
      await client.close().catch(() => client.destroy());
    },
  };
}

/** Cluster clients, seeded with the one node in `url` (they discover the rest). */
export const connectIORedisCluster: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return ioredisConnection(
    new Cluster([{ host, port }], { lazyConnect: true, redisOptions: auth }),
  );
};

export const connectNodeRedisCluster: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return nodeRedisConnection(
    createCluster({ rootNodes: [{ socket: { host, port } }], defaults: auth }),
  );
};

export const CLUSTER_ADAPTERS = {
  ioredis: connectIORedisCluster,
  'node-redis': connectNodeRedisCluster,
} as const;

/**
 * Clients through Sentinel: `url` names one Sentinel, and its user and password are those of the
 * data servers (the Sentinels themselves take no password here).
 */
export const connectIORedisSentinel: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return ioredisConnection(
    new Redis({ sentinels: [{ host, port }], name: SENTINEL_NAME, lazyConnect: true, ...auth }),
  );
};

export const connectNodeRedisSentinel: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return nodeRedisConnection(
    createSentinel({
      name: SENTINEL_NAME,
      sentinelRootNodes: [{ host, port }],
      nodeClientOptions: auth,
    }),
  );
};
