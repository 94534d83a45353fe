/**
 * A Redis Cluster on TLS only (clients, the cluster bus and replication; client certificates
 * required), on both adapters: latchkey's own connections to each node (the sharded subscriber,
 * the key watcher) must take the client's TLS settings, or hand-overs fall back to the holder's
 * expiry and loss shows only at the next refresh. Each waiter waits on a holder with a long ttl,
 * so only a push can give it the lock in time; each held lock has a 10 s ttl, so a loss signal
 * within 1 s came by push.
 */
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisAdapter } from '../../src/backends/redis/adapter.js';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import {
  fromNodeRedis,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import { LOCK_ERROR_CODES, LockError } from '../../src/errors.js';
import { Locker } from '../../src/locker.js';
import { handOver, nameOn } from '../helpers/cluster-locks.js';
import { type ClusterSetup, startCluster } from '../helpers/redis-cluster.js';
import {
  type ClientTls,
  makeTestCertificates,
  type TestCertificates,
} from '../helpers/tls-certs.js';

const HOLD_TTL_MS = 30_000;
/** Far below HOLD_TTL_MS: a waiter that got the lock within this was woken, not expired into it. */
const PUSHED_WITHIN_MS = 5_000;
/** A third of the 10 s ttl comes before the first refresh: a signal within this came by push. */
const LOSS_PUSHED_WITHIN_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A cluster client of one library over TLS, seeded with one node. */
interface OpenedClient {
  readonly adapter: RedisAdapter;
  close(): Promise<void>;
}

/**
 * Opens a client; `connecting` gets its connect() promise, which is awaited unless given (as an
 * application may not await it, and a refused client's never settles well).
 */
type Open = (
  port: number,
  tls: ClientTls,
  connecting?: (connected: Promise<unknown>) => void,
) => Promise<OpenedClient>;

const CLIENTS: Record<string, Open> = {
  ioredis: async (port, tls, connecting) => {
    const client = new Cluster([{ host: '127.0.0.1', port }], {
      lazyConnect: true,
      redisOptions: { tls },
    });
    client.on('error', () => {}); // the failover test kills a node
    const connected = client.connect();
    if (connecting) connecting(connected);
    else await connected;
    return { adapter: fromIORedis(client), close: async () => client.disconnect() };
  },
  'node-redis': async (port, tls, connecting) => {
    const socket = { tls: true as const, ...tls };
    const client = createCluster({
      rootNodes: [{ socket: { host: '127.0.0.1', port, ...socket } }],
      defaults: { socket },
    });
    client.on('error', () => {});
    const connected = client.connect();
    if (connecting) connecting(connected);
    else await connected;
    return {
      adapter: fromNodeRedis(client as unknown as NodeRedisClient),
      close: async () => void (await client.close().catch(() => client.destroy())),
    };
  },
};

for (const [clientName, open] of Object.entries(CLIENTS)) {
  describe(`Redis Cluster over TLS (${clientName})`, () => {
    let certificates: TestCertificates;
    let cluster: ClusterSetup;
    const opened: { client: OpenedClient; locker: Locker }[] = [];

    beforeAll(async () => {
      certificates = makeTestCertificates();
      cluster = await startCluster({ tls: certificates });
    }, 60_000);
    afterAll(async () => {
      for (const { client, locker } of opened.splice(0)) {
        await locker.close();
        await client.close();
      }
      await cluster?.stop();
      certificates?.remove();
    });

    const newLocker = async (tls: ClientTls = certificates.client) => {
      const [seed] = await cluster.masters();
      if (!seed) throw new Error('no master');
      const client = await open(seed.port, tls);
      const locker = new Locker(client.adapter);
      opened.push({ client, locker });
      return locker;
    };

    it('hands a lock over by push on each of the three masters', async () => {
      const [holders, waiters] = [await newLocker(), await newLocker()];
      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      for (const [i, master] of masters.entries()) {
        const name = await nameOn(master, `tls-handover-${clientName}-${i}`);
        const ms = await handOver(holders, waiters, name, HOLD_TTL_MS);
        process.stdout.write(
          `[${clientName}, Cluster over TLS] hand-over on port ${master.port}: ${ms.toFixed(1)} ms\n`,
        );
        expect(ms).toBeLessThan(PUSHED_WITHIN_MS);
      }
    }, 60_000);

    it('a holder learns by push that its key was deleted or overwritten', async () => {
      const locker = await newLocker();
      const [master] = await cluster.masters();
      if (!master) throw new Error('no master');
      for (const [change, reason] of [
        [(key: string) => master.server.command('DEL', key), 'expired'],
        [(key: string) => master.server.command('SET', key, 'f'.repeat(32), 'PX', 10_000), 'taken'],
      ] as const) {
        const name = await nameOn(master, `tls-watched-${clientName}-${reason}`);
        const held = await locker.acquire(name, { ttlMs: 10_000 });
        const { signal } = held; // reading it starts the watch
        await sleep(100);
        await change(mutexKeys('latchkey:', name).lock);
        const changedAt = performance.now();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        const ms = performance.now() - changedAt;
        process.stdout.write(
          `[${clientName}, Cluster over TLS] loss by push (${reason}): ${ms.toFixed(1)} ms\n`,
        );
        expect(ms).toBeLessThan(LOSS_PUSHED_WITHIN_MS);
        expect(signal.reason).toMatchObject({ code: LOCK_ERROR_CODES.lost, reason });
        expect((await held.release()).outcome).toBe(reason);
      }
    }, 30_000);

    it("a waiter whose lock's master is killed gets the lock by push from the promoted replica", async () => {
      const [holders, waiters] = [await newLocker(), await newLocker()];
      const [master] = await cluster.masters();
      if (!master) throw new Error('no master');
      const name = await nameOn(master, `tls-failover-${clientName}`);
      const ms = await handOver(holders, waiters, name, HOLD_TTL_MS, async () => {
        await cluster.failover(master, 'kill');
        await cluster.restart(master);
      });
      process.stdout.write(
        `[${clientName}, Cluster over TLS] hand-over after the master was killed: ${ms.toFixed(1)} ms\n`,
      );
      expect(ms).toBeLessThan(PUSHED_WITHIN_MS);
    }, 60_000);

    it('a client without the client certificate is refused, and an acquire fails in time, typed', async () => {
      const [seed] = await cluster.masters();
      if (!seed) throw new Error('no master');
      const { ca } = certificates.client;
      let connected: Promise<unknown> = Promise.resolve();
      const client = await open(seed.port, { ca, cert: '', key: '' }, (connecting) => {
        connected = connecting;
      });
      const refused = await Promise.race([
        connected.then(
          () => 'connected',
          () => 'refused',
        ),
        sleep(5_000).then(() => 'no answer'),
      ]);
      const locker = new Locker(client.adapter, { commandTimeoutMs: 500 });
      const started = performance.now();
      try {
        const error = await locker.acquire(`tls-refused-${clientName}`, { waitMs: 0 }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        const ms = performance.now() - started;
        process.stdout.write(
          `[${clientName}, Cluster over TLS] without a client certificate: connect ${refused}, acquire failed with ${String((error as Error | undefined)?.message)} after ${ms.toFixed(0)} ms\n`,
        );
        expect(refused).not.toBe('connected');
        expect(error).toBeInstanceOf(LockError);
        expect(ms).toBeLessThan(10_000);
      } finally {
        await locker.close();
        await client.close().catch(() => {});
      }
    }, 30_000);
  });
}
