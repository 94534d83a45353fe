import { createConnection, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createLocker } from '../../src/backends/redis/adapters/ioredis.js';
import { connectIORedis } from '../helpers/adapters.js';
import { runConformance } from '../helpers/conformance.js';
import { startRedis } from '../helpers/redis-server.js';

runConformance('ioredis', connectIORedis, './worker-ioredis.ts');

/**
 * A loopback TCP proxy in front of Redis that can hold back Redis's replies (commands still pass)
 * and cut every connection, so that a command runs on the server while its client never hears the
 * reply and resends it after reconnecting.
 */
async function replyDroppingProxy(upstreamPort: number) {
  const sockets = new Set<Socket>();
  let dropReplies = false;
  const proxy = createServer((client) => {
    const upstream = createConnection({ port: upstreamPort, host: '127.0.0.1' });
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!dropReplies) client.write(chunk);
    });
    const end = () => {
      for (const socket of [client, upstream]) {
        socket.destroy();
        sockets.delete(socket);
      }
    };
    for (const socket of [client, upstream]) socket.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
  return {
    port: address.port,
    dropReplies(drop: boolean) {
      dropReplies = drop;
    },
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}

describe('ioredis adapter', () => {
  it('ioredis › subscriber › push wake-ups work when the client disables the offline queue', async () => {
    const server = await startRedis();
    const client = new Redis(server.port, { enableOfflineQueue: false, lazyConnect: true });
    await client.connect();
    const locker = createLocker(client);
    try {
      const holder = await locker.acquire('no-offline-queue', { ttlMs: 30_000 });
      const waiting = locker.acquire('no-offline-queue', { ttlMs: 30_000, waitMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await holder.release();
      const started = performance.now();
      const next = await waiting;
      // Without a working subscriber the waiter would sleep out the holder's 30 s PTTL.
      expect(performance.now() - started).toBeLessThan(10_000);
      await next.release();
    } finally {
      await locker.close();
      client.disconnect();
      await server.stop();
    }
  }, 30_000);

  it('ioredis › release › a release that ioredis resends after a reconnect reports released', async () => {
    const server = await startRedis();
    const proxy = await replyDroppingProxy(server.port);
    // Defaults: ioredis reconnects and resends the commands it got no reply to.
    const client = new Redis(proxy.port, { lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    const direct = new Redis(server.port);
    const locker = createLocker(client, { commandTimeoutMs: 5_000 });
    const waiterLocker = createLocker(direct);
    try {
      // Load the release script, so that no NOSCRIPT reply is among those held back.
      await (await locker.acquire('warm-up')).release();
      for (const withWaiter of [false, true]) {
        const name = `resent-release-${withWaiter}`;
        const lock = await locker.acquire(name, { ttlMs: 30_000, autoRefresh: false });
        const waiting = withWaiter
          ? waiterLocker.acquire(name, { ttlMs: 30_000, waitMs: 20_000 })
          : undefined;
        while (withWaiter && Number(await server.command('ZCARD', `latchkey:{${name}}:queue`)) < 1)
          await new Promise((resolve) => setTimeout(resolve, 20));
        await server.command('CONFIG', 'RESETSTAT');
        proxy.dropReplies(true);
        const releasing = lock.release();
        // The release ran on the server; its reply is held back. Then the connection drops.
        for (let i = 0; (await server.command('GET', `latchkey:{${name}}`)) === lock.token; i++) {
          if (i > 250) throw new Error('the release did not run');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        proxy.cut();
        proxy.dropReplies(false);
        expect(await releasing).toEqual({ outcome: 'released', released: true });
        const granted = await waiting;
        // The granted waiter claims the lock for its ttl: one extension of its own.
        for (
          let i = 0;
          granted && Number(await server.command('PTTL', `latchkey:{${name}}`)) < 20_000;
          i++
        ) {
          if (i > 250) throw new Error('the grant was not claimed');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const stats = String(await server.command('INFO', 'commandstats'));
        const claims = granted ? 1 : 0;
        expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1]), 'run twice').toBe(
          2 + claims,
        );
        await granted?.release();
      }
    } finally {
      await locker.close();
      await waiterLocker.close();
      client.disconnect();
      direct.disconnect();
      await proxy.close();
      await server.stop();
    }
  }, 30_000);

  it('ioredis › writes › commands sent in one turn leave the socket in one write, in order', async () => {
    const server = await startRedis();
    const client = new Redis(server.port);
    await client.ping();
    const locker = createLocker(client);
    // Count the socket's write calls: corked writes reach it as one _writev.
    const socket = client.stream as unknown as {
      _write: (...args: unknown[]) => void;
      _writev: (...args: unknown[]) => void;
    };
    const calls = { write: 0, writev: 0 };
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (...args) => {
      calls.write++;
      write(...args);
    };
    socket._writev = (...args) => {
      calls.writev++;
      writev(...args);
    };
    try {
      await (await locker.acquire('warm-up')).release(); // opens the subscriber
      calls.write = 0;
      calls.writev = 0;
      const names = Array.from({ length: 100 }, (_, i) => `batched-${i}`);
      const acquiring = names.map((name) => locker.acquire(name));
      // The caller's own commands sent while the socket is corked go in the same write, in order.
      const own = Promise.resolve().then(() =>
        Promise.all([client.set('own-key', 'own-value'), client.get('own-key')]),
      );
      const locks = await Promise.all(acquiring);
      expect(await own).toEqual(['OK', 'own-value']);
      expect(calls.writev).toBe(1); // the 100 acquire scripts
      expect(calls.write).toBeLessThanOrEqual(2); // SET and GET, if sent before the cork
      expect(locks.every((lock, i) => lock.name === names[i] && lock.fencingToken > 0)).toBe(true);
      await Promise.all(locks.map((lock) => lock.release()));
      const state = await Promise.all(names.map((name) => locker.inspect(name)));
      expect(state.every((lock) => !lock.locked)).toBe(true);
      // Nothing stays corked: a lone command afterwards is written at once.
      expect((client.stream as unknown as { writableCorked: number }).writableCorked).toBe(0);
    } finally {
      await locker.close();
      client.disconnect();
      await server.stop();
    }
  }, 30_000);
});
