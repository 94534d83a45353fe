/**
 * Redis Sentinel on TLS only, on both adapters through their Sentinel clients (ioredis
 * `new Redis({ sentinels, name })`, node-redis `createSentinel`): the data servers and the
 * Sentinels listen on their TLS ports alone and require the client certificate, and replication
 * and the Sentinels' own links are TLS too. latchkey's own connections (the subscriber, and
 * ioredis's key watcher) are duplicates of the client, so they must keep its TLS settings for the
 * Sentinels and for the data servers, or hand-overs fall back to the holder's expiry and loss
 * shows only at the next refresh. Each waiter waits on a holder with a 30 s ttl, so getting the
 * lock within 5 s means a push woke it; a held lock has a 10 s ttl, so a loss signal within 1 s
 * came by push (ioredis; node-redis has no key watcher through Sentinel and learns at the
 * refresh). Then the primary is killed (SIGKILL), and locks must go on on the replica the
 * Sentinels promote; and a client that does not trust the CA must fail in time, typed.
 */
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import {
  createLocker as createNodeRedisLocker,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import { LOCK_ERROR_CODES, type Lock, LockError, type Locker } from '../../src/index.js';
import { sleep, within } from '../../src/testing/wait.js';
import { type SentinelSetup, startSentinelSetup } from '../helpers/redis-sentinel.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls-certs.js';

const HOLD_TTL_MS = 30_000;
/** Far below HOLD_TTL_MS: a waiter that got the lock within this was woken, not expired into it. */
const PUSHED_WITHIN_MS = 5_000;
/** A held lock's ttl in the loss test; its first refresh comes a third of it later, at 3.3 s. */
const WATCHED_TTL_MS = 10_000;
/** Well before that first refresh: a loss signal within this came by push. */
const LOSS_PUSHED_WITHIN_MS = 1_000;
/** The refresh interval where loss is learnt at a refresh (node-redis through Sentinel). */
const REFRESH_MS = 1_500;
/** Small, so that a failing acquire ends soon; what is checked is that it ends. */
const COMMAND_TIMEOUT_MS = 500;
/** Every failure of a client that does not trust the CA must surface by then. */
const BOUND_MS = 10_000;

/** A client of one library through the Sentinels, connecting in the background, and a locker. */
interface Opened {
  readonly locker: Locker;
  /**
   * What the client reported on 'error' and a rejected connect(): Errors, or strings (node-redis's
   * Sentinel client emits its inner clients' errors as text).
   */
  readonly errors: unknown[];
  /** Settles when the client's connect() does. */
  readonly connected: Promise<unknown>;
  close(): Promise<void>;
}

type Open = (setup: SentinelSetup, tls: ConnectionOptions, commandTimeoutMs?: number) => Opened;

const sentinelsOf = (setup: SentinelSetup) =>
  setup.sentinels.map(({ host, port }) => ({ host, port }));

/** How a client reaches a Sentinel set-up on TLS only; the library's own words for it. */
const CLIENTS: Record<string, Open> = {
  ioredis: (setup, tls, commandTimeoutMs) => {
    const client = new Redis({
      sentinels: sentinelsOf(setup),
      name: setup.name,
      lazyConnect: true,
      sentinelTLS: tls, // to the Sentinels
      enableTLSForSentinelMode: true, // to the data servers they name, with `tls`
      tls,
    });
    const errors: unknown[] = [];
    client.on('error', (error: unknown) => errors.push(error)); // the failover drops connections
    const connected = client.connect();
    connected.catch((error: unknown) => errors.push(error));
    const locker = createIORedisLocker(
      client,
      commandTimeoutMs === undefined ? {} : { commandTimeoutMs },
    );
    return {
      locker,
      errors,
      connected,
      close: async () => {
        await locker.close();
        await client.quit().catch(() => client.disconnect());
      },
    };
  },
  'node-redis': (setup, tls, commandTimeoutMs) => {
    const socket = { tls: true as const, ...tls };
    const client = createSentinel({
      name: setup.name,
      sentinelRootNodes: sentinelsOf(setup),
      nodeClientOptions: { socket },
      sentinelClientOptions: { socket },
    });
    const errors: unknown[] = [];
    client.on('error', (error: unknown) => errors.push(error));
    const connected = client.connect();
    connected.catch((error: unknown) => errors.push(error));
    const locker = createNodeRedisLocker(
      client as unknown as NodeRedisClient,
      commandTimeoutMs === undefined ? {} : { commandTimeoutMs },
    );
    return {
      locker,
      errors,
      connected,
      close: async () => {
        await locker.close();
        await client.close().catch(() => client.destroy());
      },
    };
  },
};

/** How a holder learns that its key was deleted: ioredis watches the key, node-redis cannot. */
const LOSS: Record<string, 'push' | 'refresh'> = {
  ioredis: 'push',
  // A createSentinel client's duplicate takes no RESP3 options, so the node-redis adapter offers
  // no key watcher through Sentinel (src/backends/redis/adapters/node-redis.ts, fromNodeRedis).
  'node-redis': 'refresh',
};

/**
 * What a client without the CA reports: ioredis that the Sentinels are unreachable, but not why
 * (its Sentinel connections report the refused handshake as "Connection is closed"); node-redis
 * the certificate error, as text.
 */
const UNTRUSTED_REPORT: Record<string, RegExp> = {
  ioredis: /All sentinels are unreachable/,
  'node-redis': /self[- ]signed certificate/,
};

const said = (errors: readonly unknown[]) =>
  errors.map((error) => (error instanceof Error ? error.message : String(error))).join('\n');

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });

const report = (clientName: string, what: string) =>
  process.stdout.write(`[${clientName}, Sentinel over TLS] ${what}\n`);

describe.each(Object.keys(CLIENTS))('Sentinel over TLS › %s', (clientName) => {
  const open = CLIENTS[clientName] as Open;
  let certificates: TestCertificates;
  let setup: SentinelSetup;
  let holders: Locker;
  let waiters: Locker;
  const opened: Opened[] = [];
  let counter = 0;
  /** A fresh lock name per test, so tests never see each other's keys. */
  const fresh = (label: string) => `sentinel-tls:${clientName}:${label}:${++counter}`;
  const lockKey = (name: string) => mutexKeys('latchkey:', name).lock;

  const openTrusted = async () => {
    const client = open(setup, certificates.client);
    opened.push(client);
    await within(client.connected, BOUND_MS, `${clientName} connects through the Sentinels`);
    return client.locker;
  };

  beforeAll(async () => {
    certificates = makeTestCertificates();
    const started = performance.now();
    setup = await startSentinelSetup({ tls: certificates });
    report(clientName, `set-up: ${(performance.now() - started).toFixed(0)} ms`);
    holders = await openTrusted();
    waiters = await openTrusted();
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(opened.splice(0).map((client) => client.close()));
    await setup?.stop();
    certificates?.remove();
  });

  /**
   * Holds `name`, has the other locker wait for it and releases: the waiter must get the lock by
   * push. Resolves the ms from release to grant.
   */
  const handOver = async (name: string, held?: Lock): Promise<number> => {
    const holder = held ?? (await holders.acquire(name, { ttlMs: HOLD_TTL_MS }));
    const waiting = waiters.acquire(name, { ttlMs: HOLD_TTL_MS, waitMs: HOLD_TTL_MS });
    await sleep(200); // the waiter is subscribed and in line
    const releasedAt = performance.now();
    expect(await holder.release()).toMatchObject({ outcome: 'released' });
    const next = await within(waiting, PUSHED_WITHIN_MS, 'hand-over by push');
    const ms = performance.now() - releasedAt;
    expect(next.fencingToken).toBeGreaterThan(holder.fencingToken);
    expect(await next.release()).toMatchObject({ outcome: 'released' });
    return ms;
  };

  it(`Sentinel over TLS › ${clientName} › a waiter gets a released lock by push, with a larger fencing token`, async () => {
    const name = fresh('handover');
    const ms = await handOver(name);
    report(clientName, `hand-over: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(PUSHED_WITHIN_MS);
    expect(await (await setup.primary()).command('EXISTS', lockKey(name))).toBe(0);
  });

  if (LOSS[clientName] === 'push') {
    it(`Sentinel over TLS › ${clientName} › a holder learns by push that its key was deleted, well before its first refresh`, async () => {
      const name = fresh('deleted');
      const held = await holders.acquire(name, { ttlMs: WATCHED_TTL_MS });
      const { signal } = held; // reading it starts the watch
      await sleep(100);
      await (await setup.primary()).command('DEL', lockKey(name));
      const deletedAt = performance.now();
      await within(aborted(signal), WATCHED_TTL_MS, 'the loss signal');
      const ms = performance.now() - deletedAt;
      report(clientName, `loss by push after DEL: ${ms.toFixed(1)} ms`);
      expect(ms).toBeLessThan(LOSS_PUSHED_WITHIN_MS);
      expect(signal.reason).toMatchObject({ code: LOCK_ERROR_CODES.lost, reason: 'expired' });
      expect((await held.release()).outcome).toBe('expired');
    });
  } else {
    it(`Sentinel over TLS › ${clientName} › a holder whose key was deleted learns it at its next refresh (no key watcher through Sentinel)`, async () => {
      const name = fresh('deleted');
      const acquiredAt = performance.now();
      const held = await holders.acquire(name, { ttlMs: WATCHED_TTL_MS, refreshMs: REFRESH_MS });
      const { signal } = held;
      await sleep(100);
      await (await setup.primary()).command('DEL', lockKey(name));
      const deletedAt = performance.now();
      await within(aborted(signal), WATCHED_TTL_MS, 'the loss signal');
      const now = performance.now();
      report(
        clientName,
        `loss at the refresh after DEL: ${(now - deletedAt).toFixed(1)} ms (${(now - acquiredAt).toFixed(0)} ms after the acquire, refreshMs ${REFRESH_MS})`,
      );
      // Not before the refresh (nothing pushes it), and at the refresh, not at the ttl.
      expect(now - acquiredAt).toBeGreaterThanOrEqual(REFRESH_MS - 50);
      expect(now - acquiredAt).toBeLessThan(REFRESH_MS + 1_000);
      expect(signal.reason).toMatchObject({ code: LOCK_ERROR_CODES.lost, reason: 'expired' });
      expect((await held.release()).outcome).toBe('expired');
    });
  }

  it(`Sentinel over TLS › ${clientName} › after the primary is killed and a replica promoted, a lock held across it releases, and locks, hand-overs by push and fencing tokens go on`, async () => {
    const name = fresh('failover');
    const held = await holders.acquire(name, { ttlMs: HOLD_TTL_MS });
    const { signal } = held; // watched across the failover where the client can watch keys
    // Sentinel's failover waits for no write: wait until both replicas have the lock.
    const old = await setup.primary();
    for (const server of setup.servers.filter((s) => s !== old)) {
      await expect
        .poll(() => server.command('GET', lockKey(name)), { timeout: 5_000 })
        .toBe(held.token);
    }
    process.kill(old.pid, 'SIGKILL');
    const killedAt = performance.now();
    const promoted = await setup.promotedAfter(old);
    const promotedMs = performance.now() - killedAt;

    // The client finds the new primary through the Sentinels, over TLS. A command sent before it
    // has may fail at its deadline (node-redis keeps it on the dead primary's connection), so
    // read the lock until the client answers: from the promoted replica, which has it.
    await expect
      .poll(() => holders.inspect(name).then(({ token }) => token, String), {
        timeout: BOUND_MS,
        interval: 100,
      })
      .toBe(held.token);
    const backMs = performance.now() - killedAt;
    expect(await held.release()).toMatchObject({ outcome: 'released' });
    expect(signal.aborted).toBe(false);
    const after = await holders.acquire(name, { ttlMs: HOLD_TTL_MS });
    expect(after.fencingToken).toBeGreaterThan(held.fencingToken);
    const ms = await handOver(name, after);
    report(
      clientName,
      `failover (SIGKILL): promoted ${promotedMs.toFixed(0)} ms after the kill, the client read the lock there ${backMs.toFixed(0)} ms after it; hand-over on the new primary: ${ms.toFixed(1)} ms`,
    );
    expect(ms).toBeLessThan(PUSHED_WITHIN_MS);
    expect(await promoted.command('EXISTS', lockKey(name))).toBe(0);
    // A second lock on the new primary, from the other client: its waiter moved there too.
    const other = fresh('after-failover');
    const first = await waiters.acquire(other, { ttlMs: HOLD_TTL_MS });
    expect(await promoted.command('GET', lockKey(other))).toBe(first.token);
    await first.release();
  }, 30_000);

  it(`Sentinel over TLS › ${clientName} › a client that does not trust the CA never connects, and an acquire fails in time with a LockBackendError instead of hanging`, async () => {
    // A client certificate but not the CA: only the trust in the servers is missing. Neither
    // client's connect() settles (both retry); the acquire is made at once, as an application
    // that does not await connect() would.
    const { cert, key } = certificates.client;
    const client = open(setup, { cert, key }, COMMAND_TIMEOUT_MS);
    opened.push(client);
    let connected = false;
    client.connected.then(
      () => (connected = true),
      () => {},
    );
    const started = performance.now();
    const error = await within(
      client.locker.acquire(fresh('untrusted'), { waitMs: 1_000 }).then(
        () => undefined,
        (failure: unknown) => failure,
      ),
      BOUND_MS,
      'the failure of the acquire',
    );
    const ms = performance.now() - started;
    report(
      clientName,
      `without the CA: acquire failed after ${ms.toFixed(0)} ms with ${String((error as Error | undefined)?.name)}: ${String((error as Error | undefined)?.message)}; the client said ${JSON.stringify(said(client.errors.slice(0, 1)))}`,
    );
    expect(error).toBeInstanceOf(LockError);
    expect(error).toMatchObject({ code: LOCK_ERROR_CODES.backend });
    expect(ms).toBeLessThan(BOUND_MS);
    expect(connected).toBe(false);
    await expect
      .poll(() => said(client.errors), { timeout: BOUND_MS })
      .toMatch(UNTRUSTED_REPORT[clientName] as RegExp);
  });
});
