/**
 * What each adapter accepts as a client, checked when the locker is made or before its first lock
 * command: wrong objects, Redis Cluster clients and servers, clients that are not connected.
 */
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import { createLocker as createNodeRedisLocker } from '../../src/backends/redis/adapters/node-redis.js';
import { LOCK_ERROR_CODES } from '../../src/errors.js';
import type { Locker } from '../../src/locker.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const unsupported = { code: LOCK_ERROR_CODES.unsupported, name: 'LockUnsupportedError' };
const invalid = { code: LOCK_ERROR_CODES.invalidArgument };
const clientClosed = { code: LOCK_ERROR_CODES.clientClosed, name: 'LockClientClosedError' };

/** Rejects if `promise` has not settled within `ms`: a permanent error must not be waited out. */
function within<T>(promise: Promise<T>, ms = 3_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('clients › wrong objects', () => {
  const adapters = [
    ['ioredis', createIORedisLocker, 'an ioredis client', 'evalsha, eval, duplicate'],
    ['node-redis', createNodeRedisLocker, 'a node-redis client', 'evalSha, eval, duplicate'],
  ] as const;
  for (const [label, create, kind, methods] of adapters) {
    it(`clients › ${label} › createLocker(undefined / {} / a wrong object) throws InvalidArgumentError naming what is missing`, () => {
      const make = create as (client: unknown) => Locker;
      for (const wrong of [undefined, null, 'redis://localhost', 42]) {
        expect(() => make(wrong)).toThrow(
          expect.objectContaining({ code: LOCK_ERROR_CODES.invalidArgument, argument: 'client' }),
        );
      }
      expect(() => make({})).toThrow(`must be ${kind}: it has no ${methods}`);
      expect(() => make({ eval: () => {}, duplicate: () => {} })).toThrow(
        `it has no ${methods.split(',')[0]}`,
      );
    });
  }
});

describe('clients › Redis Cluster', () => {
  let cluster: RedisServer;
  beforeAll(async () => {
    cluster = await startRedis({
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
    });
    await cluster.command('CLUSTER', 'ADDSLOTSRANGE', 0, 16383); // serves every key
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  // A cluster client is welcome (test/integration/cluster-*.test.ts); only `replicas` is not.
  it('clients › ioredis › a Cluster client makes a locker; the replicas option is refused', async () => {
    const client = new Cluster([{ host: cluster.host, port: cluster.port }], { lazyConnect: true });
    try {
      await createIORedisLocker(client).close();
      expect(() => createIORedisLocker(client, { replicas: 1 })).toThrow(
        expect.objectContaining({ ...invalid, argument: 'replicas' }),
      );
    } finally {
      client.disconnect();
    }
  });

  it('clients › node-redis › a createCluster client makes a locker; the replicas option is refused', async () => {
    const client = createCluster({ rootNodes: [{ url: cluster.url }] });
    await createNodeRedisLocker(client as never).close();
    expect(() => createNodeRedisLocker(client as never, { replicas: 1 })).toThrow(
      /not available on a Redis Cluster/,
    );
  });

  const plainClients = [
    [
      'ioredis',
      async () => {
        const client = new Redis(cluster.port, { lazyConnect: true });
        await client.connect();
        return { locker: createIORedisLocker(client), close: async () => client.disconnect() };
      },
    ],
    [
      'node-redis',
      async () => {
        const client = createClient({ url: cluster.url });
        client.on('error', () => {});
        await client.connect();
        return { locker: createNodeRedisLocker(client), close: () => client.destroy() };
      },
    ],
  ] as const;
  for (const [label, connect] of plainClients) {
    it(`clients › ${label} › a plain client on a Cluster node is refused before any lock command, and writes nothing`, async () => {
      const { locker, close } = await connect();
      try {
        await within(
          expect(
            locker.acquire('orders', { waitMs: Number.POSITIVE_INFINITY }),
          ).rejects.toMatchObject(unsupported),
        );
        await within(expect(locker.tryAcquire('orders')).rejects.toMatchObject(unsupported));
        await within(expect(locker.inspect('orders')).rejects.toMatchObject(unsupported));
        await expect(locker.acquire('orders')).rejects.toThrow(/Cluster mode/);
        expect(await cluster.command('DBSIZE')).toBe(0);
      } finally {
        await locker.close();
        await close();
      }
    });
  }
});

describe('clients › not connected', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('clients › node-redis › a client never connected fails at once, and works once connected', async () => {
    const client = createClient({ url: server.url });
    client.on('error', () => {});
    const locker = createNodeRedisLocker(client);
    try {
      await within(
        expect(locker.acquire('jobs', { waitMs: Number.POSITIVE_INFINITY })).rejects.toMatchObject(
          clientClosed,
        ),
      );
      await within(expect(locker.tryAcquire('jobs')).rejects.toMatchObject(clientClosed));
      await within(expect(locker.inspect('jobs')).rejects.toMatchObject(clientClosed));
      await client.connect();
      const lock = await locker.acquire('jobs');
      await lock.release();
      await client.close();
      await within(expect(locker.acquire('jobs')).rejects.toMatchObject(clientClosed));
    } finally {
      await locker.close();
      if (client.isOpen) client.destroy();
    }
  });

  for (const end of ['quit', 'disconnect'] as const) {
    it(`clients › ioredis › a client after ${end}() fails at once, also with waitMs Infinity`, async () => {
      const client = new Redis(server.port, { lazyConnect: true });
      client.on('error', () => {});
      await client.connect();
      const locker = createIORedisLocker(client);
      try {
        await (await locker.acquire('jobs')).release();
        if (end === 'quit') await client.quit();
        else client.disconnect();
        await within(
          expect(
            locker.acquire('jobs', { waitMs: Number.POSITIVE_INFINITY }),
          ).rejects.toMatchObject(clientClosed),
        );
        await within(expect(locker.tryAcquire('jobs')).rejects.toMatchObject(clientClosed));
        await within(expect(locker.inspect('jobs')).rejects.toMatchObject(clientClosed));
      } finally {
        await within(locker.close());
        client.disconnect();
      }
    });
  }

  it('clients › ioredis › a lazyConnect client that was never connected connects on first use', async () => {
    const client = new Redis(server.port, { lazyConnect: true });
    const locker = createIORedisLocker(client);
    try {
      const lock = await within(locker.acquire('lazy'));
      await lock.release();
    } finally {
      await locker.close();
      client.disconnect();
    }
  });

  it('clients › ioredis › a command waits for the connection instead of sitting in the offline queue past its deadline', async () => {
    const client = new Redis(server.port, { lazyConnect: true, maxRetriesPerRequest: null });
    client.on('error', () => {});
    await client.connect();
    const locker = createIORedisLocker(client, { commandTimeoutMs: 200 });
    const name = 'offline-queue';
    try {
      await locker.inspect(name);
      // Block the reconnect: the client's commands would wait in ioredis's offline queue.
      await server.command('CLIENT', 'KILL', 'TYPE', 'normal');
      await server.command('CLIENT', 'PAUSE', 1_500, 'ALL');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await within(
        expect(locker.tryAcquire(name, { ttlMs: 10_000 })).rejects.toMatchObject({
          code: LOCK_ERROR_CODES.backend,
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // A command released from the offline queue after the pause would take the lock for 10 s.
      expect(await server.command('EXISTS', `latchkey:{${name}}`)).toBe(0);
    } finally {
      await locker.close();
      client.disconnect();
    }
  }, 15_000);
});

describe('clients › reconnecting', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('clients › node-redis › a command is dropped from the offline queue at its deadline', async () => {
    const client = createClient({ url: server.url });
    client.on('error', () => {});
    await client.connect();
    const locker = createNodeRedisLocker(client, { commandTimeoutMs: 200 });
    const name = 'offline-queue';
    try {
      await locker.inspect(name);
      // The client reconnects, but its handshake waits behind the pause: it is not ready.
      await server.command('CLIENT', 'KILL', 'TYPE', 'normal');
      await server.command('CLIENT', 'PAUSE', 1_500, 'ALL');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await within(
        expect(locker.tryAcquire(name, { ttlMs: 10_000 })).rejects.toMatchObject({
          code: LOCK_ERROR_CODES.backend,
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await server.command('EXISTS', `latchkey:{${name}}`)).toBe(0);
    } finally {
      await locker.close();
      client.destroy();
    }
  }, 15_000);
});

describe('clients › scripts missing after a restart', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** EVAL calls the server ran so far: each one carried a script's whole source. */
  async function evalCalls(): Promise<number> {
    const info = String(await server.command('INFO', 'commandstats'));
    return Number(/^cmdstat_eval:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  }

  const clients = [
    [
      'ioredis',
      async () => {
        const client = new Redis(server.port);
        return { locker: createIORedisLocker(client), close: () => client.quit() };
      },
    ],
    [
      'node-redis',
      async () => {
        const client = await createClient({ url: server.url }).connect();
        return { locker: createNodeRedisLocker(client), close: () => client.quit() };
      },
    ],
  ] as const;
  for (const [label, open] of clients) {
    it(`clients › ${label} › 200 acquires at once after SCRIPT FLUSH send the source once, not 200 times`, async () => {
      const { locker, close } = await open();
      try {
        // Warm up (the server check, the scripts), then lose the scripts as a restart would.
        await (await locker.acquire(`warm:${label}`)).release();
        await server.command('SCRIPT', 'FLUSH');
        const before = await evalCalls();
        const locks = await Promise.all(
          Array.from({ length: 200 }, (_, i) => locker.acquire(`flushed:${label}:${i}`)),
        );
        expect(locks).toHaveLength(200);
        // One EVAL loads the acquire script; the others wait for it and run EVALSHA.
        expect(await evalCalls()).toBe(before + 1);
        await Promise.all(locks.map((lock) => lock.release()));
      } finally {
        await locker.close();
        await close();
      }
    });
  }
});
