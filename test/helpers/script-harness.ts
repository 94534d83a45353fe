/**
 * What the script tests share: a redis-server of their own, a script runner on ioredis, extra
 * clients (closed after the file), a subscriber that records messages, and bounded waiting.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import { ScriptRunner } from '../../src/backends/redis/script-runner.js';
import { type RedisServer, startRedis } from './redis-server.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 32-hex-digit token made from a number, so a test can name its callers 1, 2, 3. */
export const token = (n: number) => n.toString(16).padStart(32, '0');

export async function until(what: string, check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(10);
  }
}

/** Starts a server for the test file (beforeAll) and stops it with every client (afterAll). */
export function useScriptServer() {
  let server: RedisServer | undefined;
  let runner: ScriptRunner | undefined;
  const clients: Redis[] = [];

  const client = (): Redis => {
    if (!server) throw new Error('the server is not started yet');
    const redis = new Redis(server.port);
    redis.on('error', () => {});
    clients.push(redis);
    return redis;
  };

  beforeAll(async () => {
    server = await startRedis();
    runner = new ScriptRunner(fromIORedis(client()), 2_000);
  });

  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await server?.stop();
  });

  return {
    server: () => server as RedisServer,
    runner: () => runner as ScriptRunner,
    client,
    /** A subscriber on `channel` that records the messages it gets. */
    async listen(channel: string): Promise<string[]> {
      const messages: string[] = [];
      const subscriber = client();
      subscriber.on('message', (_channel: string, message: string) => messages.push(message));
      await subscriber.subscribe(channel);
      return messages;
    },
  };
}
