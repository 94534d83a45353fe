/** Connection and version helpers shared by the library adapters. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Cluster, Redis } from 'ioredis';

const require = createRequire(import.meta.url);

/** The installed version of `pkg`, read from its package.json (found next to its entry point). */
export function installedVersion(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (let depth = 0; depth < 6; depth++) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.version && manifest.name) return manifest.version.replace(/^v/, '');
    } catch {}
    dir = dirname(dir);
  }
  return 'unknown';
}

/** An ioredis client connected to `url`, with errors logged instead of thrown as events. */
export async function connectIORedis(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true });
  // After our own close, commands still in flight from a library that cannot be cancelled fail;
  // that is expected noise. Errors that matter are counted by the scenarios.
  client.on('error', (error: unknown) => {
    if (!closing.has(client)) console.error(`ioredis: ${String(error)}`);
  });
  await client.connect();
  return client;
}

const closing = new WeakSet<Redis | Cluster>();

/** True once the benchmark started closing `client`: its errors are expected from then on. */
export function isClosing(client: Redis | Cluster): boolean {
  return closing.has(client);
}

/**
 * A lock server that is a Redis Cluster is named `redis-cluster://host:port` (one node to start
 * from); libraries that support Cluster open it with their client's cluster mode.
 */
export const CLUSTER_SCHEME = 'redis-cluster:';

/** The seed node of a `redis-cluster://` URL. */
export function clusterSeed(url: string): { host: string; port: number } {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}

/** An ioredis Cluster started from the seed in `url`, errors logged as for connectIORedis. */
export async function connectIORedisCluster(url: string): Promise<Cluster> {
  const client = new Cluster([clusterSeed(url)], { lazyConnect: true });
  client.on('error', (error: unknown) => {
    if (!closing.has(client)) console.error(`ioredis cluster: ${String(error)}`);
  });
  await client.connect();
  return client;
}

export async function closeIORedis(client: Redis | Cluster): Promise<void> {
  closing.add(client);
  await client.quit().catch(() => client.disconnect());
}
