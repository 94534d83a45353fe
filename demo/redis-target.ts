/**
 * The Redis the demo runs against: the one at REDIS_URL if set, otherwise a redis-server the demo
 * starts on a free loopback port (and stops at the end) with the test suite's helper.
 */
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis-server.js';

export interface RedisTarget {
  readonly url: string;
  /** For the output: where it is, which version, and whether the demo started it. */
  readonly description: string;
  /** Deletes the demo's keys (on a REDIS_URL server) or stops the server the demo started. */
  cleanUp(keyPattern: string): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** SCAN rounds when deleting the demo's keys from someone else's server. */
const MAX_SCAN_ROUNDS = 1_000;

export async function redisTarget(): Promise<RedisTarget> {
  const givenUrl = process.env.REDIS_URL;
  if (givenUrl) {
    const version = await redisVersion(givenUrl);
    return {
      url: givenUrl,
      description: `Redis ${version} at REDIS_URL (${redactPassword(givenUrl)})`,
      cleanUp: (keyPattern) => deleteKeys(givenUrl, keyPattern),
    };
  }
  const server = await startRedis();
  try {
    const version = await redisVersion(server.url);
    return {
      url: server.url,
      description: `redis-server ${version} on ${server.host}:${server.port} (pid ${server.pid}), started by the demo`,
      cleanUp: () => server.stop(),
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function redisVersion(url: string): Promise<string> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // The connection's own error (say ECONNREFUSED) says more than the rejected command's.
  let connectionError: unknown;
  client.on('error', (error: unknown) => {
    connectionError ??= error;
  });
  try {
    await client.connect();
    const info = await client.info('server');
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown version';
  } catch (error) {
    const cause = connectionError ?? error;
    throw new Error(
      `cannot reach Redis at ${redactPassword(url)}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  } finally {
    client.disconnect();
  }
}

async function deleteKeys(url: string, pattern: string): Promise<void> {
  const client = new Redis(url, { connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    let cursor = '0';
    for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    client.disconnect();
  }
}

function redactPassword(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
