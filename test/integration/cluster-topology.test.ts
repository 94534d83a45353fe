/**
 * What only a real Redis Cluster shows, on both adapters: a hand-over's message stays in the
 * lock's shard, and a waiter keeps its push wake-up while the cluster changes under it (its lock's
 * slot moves to another master, its master fails over). Each waiter waits on a holder with a long
 * ttl, so only a push (not the holder's expiry) can give it the lock in time.
 */
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import {
  fromNodeRedis,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import { keySlot } from '../../src/backends/redis/key-slot.js';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import { Locker } from '../../src/locker.js';
import type { ConnectedAdapter } from '../../src/testing/types.js';
import { FaultProxy } from '../faults/proxy.js';
import { CLUSTER_ADAPTERS } from '../helpers/adapters.js';
import { handOver, nameOn } from '../helpers/cluster-locks.js';
import { type ClusterNode, type ClusterSetup, startCluster } from '../helpers/redis-cluster.js';

const HOLD_TTL_MS = 30_000;
/** Far below HOLD_TTL_MS: a waiter that got the lock within this was woken, not expired into it. */
const PUSHED_WITHIN_MS = 8_000;

let cluster: ClusterSetup;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls of each command on `node` since its last CONFIG RESETSTAT. */
async function commandCalls(node: ClusterNode): Promise<Map<string, number>> {
  const info = String(await node.server.command('INFO', 'commandstats'));
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] ?? '', Number(match[2]));
  }
  return calls;
}

for (const [adapterName, connect] of Object.entries(CLUSTER_ADAPTERS)) {
  describe(`Redis Cluster (${adapterName})`, () => {
    const opened: { connection: ConnectedAdapter; locker: Locker }[] = [];
    const newLocker = async () => {
      const [seed] = await cluster.masters();
      if (!seed) throw new Error('no master');
      const connection = await connect(seed.server.url);
      const locker = new Locker(connection.adapter);
      opened.push({ connection, locker });
      return locker;
    };
    afterAll(async () => {
      for (const { connection, locker } of opened.splice(0)) {
        await locker.close();
        await connection.close();
      }
    });

    it('a hand-over publishes on the lock shard only: SPUBLISH on its master, no PUBLISH anywhere', async () => {
      const [holders, waiters] = [await newLocker(), await newLocker()];
      const masters = await cluster.masters();
      const names = await Promise.all(
        masters.map((master, i) => nameOn(master, `shard-${adapterName}-${i}`)),
      );
      await Promise.all(cluster.nodes.map((node) => node.server.command('CONFIG', 'RESETSTAT')));
      for (const name of names) await handOver(holders, waiters, name, HOLD_TTL_MS);
      for (const master of masters) {
        const calls = await commandCalls(master);
        // One grant message per hand-over, each on the master of its lock's slot.
        expect(calls.get('spublish'), `port ${master.port}`).toBe(1);
        expect(calls.get('publish') ?? 0).toBe(0);
      }
      for (const node of cluster.nodes) {
        expect((await commandCalls(node)).get('publish') ?? 0).toBe(0);
      }
    }, 60_000);

    it("a waiter whose lock's slot moves to another master still gets the lock by push", async () => {
      const [holders, waiters] = [await newLocker(), await newLocker()];
      const [from, to] = await cluster.masters();
      if (!from || !to) throw new Error('need two masters');
      const name = await nameOn(from, `moving-${adapterName}`);
      const ms = await handOver(holders, waiters, name, HOLD_TTL_MS, () =>
        cluster.migrateSlot(keySlot(mutexKeys('latchkey:', name).lock), to),
      );
      expect((await cluster.masterOf(keySlot(mutexKeys('latchkey:', name).lock))).id).toBe(to.id);
      expect(ms).toBeLessThan(PUSHED_WITHIN_MS);
    }, 60_000);

    for (const how of ['manual', 'kill'] as const) {
      it(`a waiter whose master fails over (${how}) still gets the lock by push`, async () => {
        const [holders, waiters] = [await newLocker(), await newLocker()];
        const [master] = await cluster.masters();
        if (!master) throw new Error('no master');
        const name = await nameOn(master, `failover-${how}-${adapterName}`);
        const ms = await handOver(holders, waiters, name, HOLD_TTL_MS, async () => {
          await cluster.failover(master, how);
          if (how === 'kill') await cluster.restart(master);
        });
        expect(ms).toBeLessThan(PUSHED_WITHIN_MS);
      }, 60_000);
    }

    it("a holder learns by push that its key was deleted, also after the key's slot moved", async () => {
      const locker = await newLocker();
      const [from, to] = await cluster.masters();
      if (!from || !to) throw new Error('need two masters');
      const name = await nameOn(from, `watched-${adapterName}`);
      const key = mutexKeys('latchkey:', name).lock;
      const held = await locker.acquire(name, { ttlMs: HOLD_TTL_MS });
      const { signal } = held; // reading it starts the watch
      await sleep(100);
      await cluster.migrateSlot(keySlot(key), to);
      // The old master reported the key gone; the check found it on its new master, still ours.
      await sleep(300);
      expect(signal.aborted).toBe(false);
      expect(held.isHeld).toBe(true);
      await (await cluster.masterOf(keySlot(key))).server.command('DEL', key);
      const deletedAt = performance.now();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      // The next refresh would come a third of the ttl (10 s) after the last one.
      expect(performance.now() - deletedAt).toBeLessThan(1_000);
      expect(signal.reason).toMatchObject({ reason: 'expired' });
    }, 60_000);

    it('a multi-lock over names on three masters holds them all and hands them over', async () => {
      const [holders, waiters] = [await newLocker(), await newLocker()];
      const masters = await cluster.masters();
      const names = await Promise.all(
        masters.map((master, i) => nameOn(master, `multi-${adapterName}-${i}`)),
      );
      const held = await holders.multi(names).acquire({ ttlMs: HOLD_TTL_MS });
      const waiting = waiters
        .multi([...names].reverse())
        .acquire({ ttlMs: HOLD_TTL_MS, waitMs: HOLD_TTL_MS });
      await sleep(200);
      const releasedAt = performance.now();
      await held.release();
      const next = await waiting;
      expect(performance.now() - releasedAt).toBeLessThan(PUSHED_WITHIN_MS);
      await next.release();
    }, 60_000);
  });
}

/**
 * Behind NAT (containers, a proxy) the addresses a Cluster announces cannot be reached, and the
 * client is given a map to where they can (ioredis natMap, node-redis nodeAddressMap). Here each
 * node has a TCP proxy in front and the map points at the proxies: latchkey's own connections to
 * the nodes (the sharded subscriber, the key watcher) must go through them too, as the client's do.
 */
describe('Redis Cluster behind an address map', () => {
  const proxies = new Map<number, FaultProxy>(); // by the node's own port
  const opened: { locker: Locker; close: () => Promise<unknown> }[] = [];
  beforeAll(async () => {
    for (const node of cluster.nodes) proxies.set(node.port, await FaultProxy.start(node.port));
  });
  afterAll(async () => {
    for (const { locker, close } of opened.splice(0)) {
      await locker.close();
      await close();
    }
    for (const proxy of proxies.values()) await proxy.close();
  });
  /** "host:port" as the Cluster announces it → its proxy. */
  const throughProxy = (address: string) => {
    const proxy = proxies.get(Number(address.slice(address.lastIndexOf(':') + 1)));
    return proxy ? { host: '127.0.0.1', port: proxy.port } : null;
  };
  const seedProxyPort = async () => {
    const [seed] = await cluster.masters();
    const proxy = seed && proxies.get(seed.port);
    if (!proxy) throw new Error('no proxy for a master');
    return proxy.port;
  };
  const connectors = {
    ioredis: async () => {
      const client = new Cluster([{ host: '127.0.0.1', port: await seedProxyPort() }], {
        natMap: (key: string) => throughProxy(key),
        lazyConnect: true,
      });
      client.on('error', () => {});
      await client.connect();
      return { adapter: fromIORedis(client), close: () => client.quit() };
    },
    'node-redis': async () => {
      const client = createCluster({
        rootNodes: [{ socket: { host: '127.0.0.1', port: await seedProxyPort() } }],
        nodeAddressMap: (address: string) => throughProxy(address) ?? undefined,
      });
      client.on('error', () => {});
      await client.connect();
      return {
        adapter: fromNodeRedis(client as unknown as NodeRedisClient),
        close: () => client.close(),
      };
    },
  };

  for (const [adapterName, connect] of Object.entries(connectors)) {
    it(`${adapterName}: hand-overs by push and key watches reach the nodes through the map`, async () => {
      const lockers = [];
      for (let i = 0; i < 2; i++) {
        const { adapter, close } = await connect();
        const locker = new Locker(adapter);
        opened.push({ locker, close });
        lockers.push(locker);
      }
      const [holders, waiters] = lockers as [Locker, Locker];
      const [master] = await cluster.masters();
      const proxy = master && proxies.get(master.port);
      if (!master || !proxy) throw new Error('no master');
      const name = await nameOn(master, `nat-${adapterName}`);
      const held = await holders.acquire(name, { ttlMs: HOLD_TTL_MS });
      const waiting = waiters.acquire(name, { ttlMs: HOLD_TTL_MS, waitMs: HOLD_TTL_MS });
      await sleep(300); // the waiter is subscribed and in line; the holder's key is watched

      // Every sharded subscriber and key-watching (tracking) connection on the lock's master
      // comes from the proxy, none straight from the client's process.
      const clients = String(await master.server.command('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => /\bssub=[1-9]/.test(line) || /\bflags=\S*t/.test(line));
      expect(clients.length).toBeGreaterThanOrEqual(2);
      const fromProxy = new Set(proxy.upstreamPorts());
      for (const line of clients) {
        const port = Number(/\baddr=[^ ]*:(\d+)/.exec(line)?.[1]);
        expect(fromProxy.has(port), line).toBe(true);
      }

      const releasedAt = performance.now();
      await held.release();
      const next = await waiting;
      expect(performance.now() - releasedAt).toBeLessThan(PUSHED_WITHIN_MS);
      const key = mutexKeys('latchkey:', name).lock;
      const lost = new Promise((resolve) =>
        next.signal.addEventListener('abort', resolve, { once: true }),
      );
      await master.server.command('DEL', key);
      const deletedAt = performance.now();
      await lost;
      expect(performance.now() - deletedAt).toBeLessThan(1_000);
    }, 60_000);
  }
});
