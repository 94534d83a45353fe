/**
 * How the tests connect the ioredis adapter to a server; used in-process and by the ioredis
 * workers, which load this module alone so that they do not pay for loading node-redis too.
 */
import { Cluster, Redis } from 'ioredis';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import type { ConnectAdapter } from '../../src/testing/types.js';
import { SENTINEL_NAME } from './redis-sentinel.js';
import type { ClientTls } from './tls-certs.js';
import { partsOf } from './url-parts.js';

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

/** A client over TLS (`url` is `rediss://…`) that trusts `tls.ca` and presents `tls.cert`. */
export function connectIORedisTls(tls: ClientTls): ConnectAdapter {
  return async (url) => ioredisConnection(new Redis(url, { lazyConnect: true, tls }));
}

/** A Cluster client, seeded with the one node in `url` (it discovers the rest). */
export const connectIORedisCluster: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return ioredisConnection(
    new Cluster([{ host, port }], { lazyConnect: true, redisOptions: auth }),
  );
};

/**
 * A client through Sentinel: `url` names one Sentinel, and its user and password are those of the
 * data servers (the Sentinels themselves take no password here).
 */
export const connectIORedisSentinel: ConnectAdapter = async (url) => {
  const { host, port, auth } = partsOf(url);
  return ioredisConnection(
    new Redis({ sentinels: [{ host, port }], name: SENTINEL_NAME, lazyConnect: true, ...auth }),
  );
};
