/**
 * The `replicas` option against a real primary with two replicas: each acquisition and extension
 * is followed by a WAIT on the same connection; a shortfall gives the acquisition back (and the
 * acquire retries within its wait) or leaves an extension uncounted. A replica is held back by
 * stopping its process (SIGSTOP), so it stops acknowledging.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisAdapter } from '../../src/backends/redis/adapter.js';
import { InvalidArgumentError, Locker, LockReplicationError } from '../../src/index.js';
import { ADAPTERS } from '../helpers/adapters.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

let primary: RedisServer;
let replicas: RedisServer[];
beforeAll(async () => {
  primary = await startRedis();
  replicas = [];
  for (let i = 0; i < 2; i++) {
    replicas.push(await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] }));
  }
  for (let i = 0; ; i++) {
    const links = await Promise.all(replicas.map((r) => r.command('INFO', 'replication')));
    if (links.every((info) => /master_link_status:up/.test(String(info)))) break;
    if (i > 200) throw new Error('replicas did not sync within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});
afterAll(async () => {
  for (const replica of replicas) process.kill(replica.pid, 'SIGCONT');
  await Promise.all([primary, ...replicas].map((server) => server.stop()));
});

async function waitCalls(): Promise<number> {
  const info = String(await primary.command('INFO', 'commandstats'));
  return Number(/^cmdstat_wait:calls=(\d+)/m.exec(info)?.[1] ?? 0);
}

describe.each(Object.entries(ADAPTERS))('replicas option › %s', (_, connect) => {
  const opened: { close(): Promise<void> }[] = [];
  const lockers: Locker[] = [];
  async function locker(options: ConstructorParameters<typeof Locker>[1]): Promise<Locker> {
    const connection = await connect(primary.url);
    opened.push(connection);
    const made = new Locker(connection.adapter, options);
    lockers.push(made);
    return made;
  }
  afterEach(async () => {
    for (const replica of replicas) process.kill(replica.pid, 'SIGCONT');
    await Promise.all(lockers.splice(0).map((made) => made.close()));
    await Promise.all(opened.splice(0).map((connection) => connection.close()));
  });

  it('an acquisition and an extension wait for the replicas (a WAIT behind each), and release as usual', async () => {
    const locks = await locker({ replicas: 2 });
    // Loads the scripts first: an EVALSHA answered NOSCRIPT gets its WAIT too, and so does the EVAL.
    await locks.acquire('warm-up').then((lock) => lock.extend().then(() => lock.release()));
    const before = await waitCalls();
    const lock = await locks.acquire('replicated', { ttlMs: 10_000 });
    await lock.extend(20_000);
    expect(await waitCalls()).toBe(before + 2);
    expect(lock.remainingMs).toBeGreaterThan(15_000);
    for (const replica of replicas) {
      expect(await replica.command('GET', `latchkey:{replicated}`)).toBe(lock.token);
    }
    expect(await lock.release()).toMatchObject({ outcome: 'released' });
  });

  it('with a replica stopped: the acquisition is given back and acquire rejects with LockReplicationError; one replica required is enough', async () => {
    const strict = await locker({ replicas: 2, replicaTimeoutMs: 100 });
    process.kill((replicas[1] as RedisServer).pid, 'SIGSTOP');
    const error = await strict.acquire('short', { waitMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockReplicationError);
    expect(error).toMatchObject({ code: 'ERR_LOCK_REPLICATION', required: 2, acknowledged: 1 });
    await expect.poll(async () => (await strict.inspect('short')).locked).toBe(false);
    // Within a wait it retries, and the wait ends with the same error, not a timeout.
    await expect(strict.acquire('short', { waitMs: 400 })).rejects.toBeInstanceOf(
      LockReplicationError,
    );
    await expect.poll(async () => (await strict.inspect('short')).locked).toBe(false);

    const lenient = await locker({ replicas: 1, replicaTimeoutMs: 100 });
    const lock = await lenient.acquire('short', { waitMs: 0 });
    expect(await lock.release()).toMatchObject({ outcome: 'released' });
  });

  it('with a replica stopped after the acquisition: an extension rejects with LockReplicationError and the lock keeps the validity it had', async () => {
    const locks = await locker({ replicas: 2, replicaTimeoutMs: 100, autoRefresh: false });
    const lock = await locks.acquire('extend-short', { ttlMs: 5_000 });
    process.kill((replicas[0] as RedisServer).pid, 'SIGSTOP');
    await expect(lock.extend(60_000)).rejects.toBeInstanceOf(LockReplicationError);
    expect(lock.isHeld).toBe(true);
    expect(lock.remainingMs).toBeLessThanOrEqual(5_000);
    expect(lock.signal.aborted).toBe(false);
    process.kill((replicas[0] as RedisServer).pid, 'SIGCONT');
    await lock.extend(60_000);
    expect(lock.remainingMs).toBeGreaterThan(50_000);
    await lock.release();
  });

  it('a lock handed over by a release is taken by an attempt of the waiter, which waits for the replicas too', async () => {
    const locks = await locker({ replicas: 2 });
    const holder = await locks.acquire('handed', { ttlMs: 20_000 });
    const waiting = locks.acquire('handed', { ttlMs: 20_000, waitMs: 8_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = await waitCalls();
    await holder.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
    // The waiter's taking attempt was followed by a WAIT.
    expect(await waitCalls()).toBeGreaterThan(before);
    for (const replica of replicas) {
      expect(await replica.command('GET', `latchkey:{handed}`)).toBe(next.token);
    }
    await next.release();
  });
});

describe('replicas option › arguments', () => {
  const adapter: RedisAdapter = {
    runScript: () => Promise.reject(new Error('not called')),
    createSubscriber: () => Promise.reject(new Error('not called')),
  };
  it.each([
    [{ replicas: -1 }, 'replicas'],
    [{ replicas: 1.5 }, 'replicas'],
    [{ replicas: '2' }, 'replicas'],
    [{ replicas: 1, replicaTimeoutMs: 0 }, 'replicaTimeoutMs'],
    [{ replicas: 1, replicaTimeoutMs: 2_000 }, 'replicaTimeoutMs'],
    [{ replicas: 1 }, 'replicas'],
  ])('%o is refused (%s) before anything is sent', (options, argument) => {
    expect(() => new Locker(adapter, options as never)).toThrow(InvalidArgumentError);
    expect(() => new Locker(adapter, options as never)).toThrow(new RegExp(argument));
  });
});
