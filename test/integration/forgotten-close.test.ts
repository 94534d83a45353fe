/**
 * A process that never calls `locker.close()` still exits once it quit its own client: the
 * subscriber connection (opened by the first acquire that may wait) and the key watcher (opened
 * when a held lock's signal is read) close after SUBSCRIBER_IDLE_MS / WATCHER_IDLE_MS with nobody
 * waiting or watching. Each case runs in a child process against a real redis-server.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const run = promisify(execFile);
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

const CONNECT = {
  ioredis: `
    const { Redis } = await import('ioredis');
    const { createLocker } = await import(${JSON.stringify(root('src/backends/redis/adapters/ioredis.ts'))});
    const client = new Redis(process.env.REDIS_URL);
    const locker = createLocker(client);
    const quit = () => client.quit();`,
  'node-redis': `
    const { createClient } = await import('redis');
    const { createLocker } = await import(${JSON.stringify(root('src/backends/redis/adapters/node-redis.ts'))});
    const client = createClient({ url: process.env.REDIS_URL });
    await client.connect();
    const locker = createLocker(client);
    const quit = () => client.close();`,
} as const;

/** What the process does with its locker before it quits its client, never closing the locker. */
const USES = {
  'acquire and release': `
    const lock = await locker.acquire('forgotten');
    await lock.release();`,
  'withLock (the signal is read, so the key watcher opens)': `
    await locker.withLock('forgotten', async (signal) => signal.aborted);`,
  'a wait ended by a hand-over': `
    const first = await locker.acquire('forgotten');
    const waiting = locker.acquire('forgotten', { waitMs: 5000 });
    setTimeout(() => first.release(), 100);
    await (await waiting).release();`,
} as const;

describe('a process that forgets close()', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  const adapters = Object.keys(CONNECT) as (keyof typeof CONNECT)[];
  const uses = Object.keys(USES) as (keyof typeof USES)[];
  const cases = adapters.flatMap((adapter) => uses.map((use) => [adapter, use] as const));
  it.each(cases)(
    '%s, %s: exits after quitting its own client',
    async (adapter, use) => {
      const script = `${CONNECT[adapter]}
      ${USES[use]}
      await quit();
      console.log('done');`;
      // Without the idle close, the subscriber (or watcher) connection would hold the process open
      // until the timeout below kills it.
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { env: { ...process.env, REDIS_URL: server.url }, timeout: 20_000, cwd: root('.') },
      );
      expect(stdout.trim()).toBe('done');
    },
    30_000,
  );
});
