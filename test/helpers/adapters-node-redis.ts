/**
 * How the tests connect the node-redis adapter to a server; used in-process and by the node-redis
 * workers, which load this module alone so that they do not pay for loading ioredis too.
 */
import { createClient, createCluster, createSentinel } from 'redis';
import {
  fromNodeRedis,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import type { ConnectAdapter } from '../../src/testing/types.js';
import { SENTINEL_NAME } from './redis-sentinel.js';
import type { ClientTls } from './tls-certs.js';
import { partsOf } from './url-parts.js';

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

/** A client over TLS (`url` is `rediss://…`) that trusts `tls.ca` and presents `tls.cert`. */
export function connectNodeRedisTls(tls: ClientTls): ConnectAdapter {
  return async (url) => nodeRedisConnection(createClient({ url, socket: { tls: true, ...tls } }));
}

/** A Cluster client, seeded with the one node in `url` (it discovers the rest). */
export const connectNodeRedisCluster: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return nodeRedisConnection(
    createCluster({ rootNodes: [{ socket: { host, port } }], defaults: auth }),
  );
};

/**
 * A client through Sentinel: `url` names one Sentinel, and its user and password are those of the
 * data servers (the Sentinels themselves take no password here).
 */
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
