import { createClient, RESP_TYPES } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createLocker,
  fromNodeRedis,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import { mutexExtend, mutexInspect } from '../../src/backends/redis/scripts/index.js';
import { FaultProxy } from '../faults/proxy.js';
import { connectNodeRedis } from '../helpers/adapters.js';
import { runConformance } from '../helpers/conformance.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

runConformance('node-redis', connectNodeRedis, './worker-node-redis.ts');

describe('node-redis adapter', () => {
  let server: RedisServer;
  const opened: { close(): Promise<unknown> }[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(opened.map((client) => client.close().catch(() => {})));
    await server.stop();
  });
  beforeEach(async () => {
    await server.command('FLUSHALL');
  });

  async function connect(options: Parameters<typeof createClient>[0] = {}) {
    const client = createClient({ url: server.url, ...options });
    client.on('error', () => {});
    await client.connect();
    opened.push(client);
    return client;
  }

  async function waitUntil(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(condition()).toBe(true);
  }

  const keys = mutexKeys('lk', 'shapes');
  const extendArgs = mutexExtend.args({ token: 'token-1', ttlMs: 10_000 });

  /** The same script through the adapter and through the client's own evalSha. */
  async function both(client: NodeRedisClient, script: typeof mutexInspect | typeof mutexExtend) {
    const args = script === mutexExtend ? extendArgs : [];
    const viaAdapter = await fromNodeRedis(client).runScript(script, script.keys(keys), args);
    const viaEvalSha = await client.evalSha(script.sha1, {
      keys: script.keys(keys),
      arguments: args,
    });
    return { viaAdapter, viaEvalSha };
  }

  it.each([
    ['RESP2', {}],
    ['RESP3', { RESP: 3 }],
  ] as const)(
    'node-redis › scripts › a %s client decodes replies as evalSha does: numbers, strings, nil, arrays, errors',
    async (_, options) => {
      const client = await connect(options);
      await client.scriptLoad(mutexInspect.lua);
      await client.scriptLoad(mutexExtend.lua);
      const adapter = fromNodeRedis(client);
      // Free lock: [nil, -2, nil, 0].
      expect(await adapter.runScript(mutexInspect, mutexInspect.keys(keys), [])).toEqual([
        null,
        -2,
        null,
        0,
      ]);

      const free = await both(client, mutexInspect);
      expect(free.viaAdapter).toEqual(free.viaEvalSha);
      // Held without expiry (stable PTTL), fencing counter as a bulk string: ['holder', -1, '7', 0].
      await server.command('SET', keys.lock, 'holder');
      await server.command('SET', keys.fence, '7');
      const held = await both(client, mutexInspect);
      expect(held.viaAdapter).toEqual(['holder', -1, '7', 0]);
      expect(held.viaAdapter).toEqual(held.viaEvalSha);
      expect(mutexInspect.parse(held.viaAdapter)).toEqual({
        value: 'holder',
        pttlMs: -1,
        lastFencingToken: 7,
        queued: 0,
      });

      // An integer reply: the key's PTTL after the extension (about the 10 s asked for).
      await server.command('SET', keys.lock, 'token-1');
      const extended = await both(client, mutexExtend);
      for (const reply of [extended.viaAdapter, extended.viaEvalSha]) {
        expect(typeof reply).toBe('number');
        expect(reply).toBeGreaterThan(9_000);
        expect(reply).toBeLessThanOrEqual(10_000);
      }

      // Redis's error text comes first in the message, on both paths.
      await server.command('DEL', keys.lock);
      await server.command('HSET', keys.lock, 'field', 'value');
      const failure = (promise: Promise<unknown>) =>
        promise.then(
          () => expect.unreachable(),
          (error: Error) => error.message,
        );
      const viaAdapter = await failure(
        adapter.runScript(mutexExtend, mutexExtend.keys(keys), extendArgs),
      );
      const viaEvalSha = await failure(
        client.evalSha(mutexExtend.sha1, { keys: mutexExtend.keys(keys), arguments: extendArgs }),
      );
      expect(viaAdapter).toMatch(/^WRONGTYPE /);
      expect(viaAdapter).toBe(viaEvalSha);

      // NOSCRIPT falls back to EVAL, which leaves the script cached.
      await server.command('DEL', keys.lock);
      await server.command('SCRIPT', 'FLUSH');
      expect(await adapter.runScript(mutexExtend, mutexExtend.keys(keys), extendArgs)).toBe(0);
      expect(await server.command('SCRIPT', 'EXISTS', mutexExtend.sha1)).toEqual([1]);
    },
  );

  it('node-redis › scripts › a withTypeMapping() client keeps its type mapping', async () => {
    const client = (await connect({ RESP: 3 })).withTypeMapping({
      [RESP_TYPES.BLOB_STRING]: Buffer,
    });
    await client.scriptLoad(mutexInspect.lua);
    await server.command('SET', keys.lock, 'holder');
    const { viaAdapter, viaEvalSha } = await both(client, mutexInspect);
    expect(viaAdapter).toEqual([Buffer.from('holder'), -1, null, 0]);
    expect(viaAdapter).toEqual(viaEvalSha);
  });

  it('node-redis › scripts › a client keyPrefix applies to latchkey keys, as with evalSha', async () => {
    const client = await connect({ keyPrefix: 'app:' });
    const adapter = fromNodeRedis(client);
    await server.command('SET', `app:${keys.lock}`, 'token-1');
    expect(await adapter.runScript(mutexExtend, mutexExtend.keys(keys), extendArgs)).toBe(10_000);
    expect(await server.command('PTTL', `app:${keys.lock}`)).toBeGreaterThan(0);
    expect(await server.command('EXISTS', keys.lock)).toBe(0);
    expect(await adapter.runScript(mutexInspect, mutexInspect.keys(keys), [])).toEqual([
      'token-1',
      expect.any(Number),
      null,
      0,
    ]);
  });

  it("node-redis › scripts › a lock command waiting for a reconnect is bounded by latchkey's commandTimeoutMs, not the client's command timeout", async () => {
    // node-redis (v5+) fails a command still queued after commandOptions.timeout (5 s by default),
    // with an AbortSignal per command; latchkey sends its scripts without it and drops one still
    // queued at its own deadline instead.
    const proxy = await FaultProxy.start(server.port);
    const client = await connect({
      url: `redis://127.0.0.1:${proxy.port}`,
      commandOptions: { timeout: 30 },
    });
    const locker = createLocker(client, { commandTimeoutMs: 5_000 });
    try {
      await locker.acquire('warm', { ttlMs: 10_000 }).then((lock) => lock.release());
      // The connection drops and its successor's handshake hangs until the proxy heals.
      proxy.setMode({ kind: 'blackhole' });
      proxy.reset();
      await waitUntil(() => !client.isReady);
      const acquiring = locker.acquire('after-reconnect', { ttlMs: 10_000, waitMs: 0 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      proxy.setMode({ kind: 'pass' });
      const lock = await acquiring;
      expect(lock.fencingToken).toBeGreaterThan(0);
      expect(await lock.release()).toMatchObject({ outcome: 'released' });
    } finally {
      await locker.close();
      await proxy.close();
    }
  });

  it('node-redis › scripts › a client with only evalSha, eval and duplicate works', async () => {
    const client = await connect();
    // Only what NodeRedisClient requires, as a wrapper or an older client might offer.
    const narrow: NodeRedisClient = {
      evalSha: (sha1, options) => client.evalSha(sha1, options),
      eval: (script, options) => client.eval(script, options),
      duplicate: () => client.duplicate(),
    };
    const locker = createLocker(narrow);
    try {
      await server.command('SCRIPT', 'FLUSH'); // the first call falls back to EVAL
      const lock = await locker.acquire('narrow', { ttlMs: 10_000 });
      expect(lock.fencingToken).toBeGreaterThan(0);
      expect(await locker.inspect('narrow')).toMatchObject({ locked: true });
      const waiting = locker.acquire('narrow', { ttlMs: 10_000, waitMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await lock.release();
      const next = await waiting;
      expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
      await next.release();
      expect(await locker.inspect('narrow')).toMatchObject({ locked: false });
    } finally {
      await locker.close();
    }
  });
});
