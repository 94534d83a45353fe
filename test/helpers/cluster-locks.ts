/**
 * Lock steps the Cluster topology tests share: a lock name whose slot a given master serves, and a
 * hand-over from one locker to a waiter in another, timed from the release.
 */
import { expect } from 'vitest';
import { keySlot } from '../../src/backends/redis/key-slot.js';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import type { Locker } from '../../src/locker.js';
import type { ClusterNode } from './redis-cluster.js';

/** A name whose lock lives on `master` (found by trying names against one read of the slot map). */
export async function nameOn(master: ClusterNode, base: string): Promise<string> {
  const ranges = (await master.server.command('CLUSTER', 'SLOTS')) as [
    number,
    number,
    [string, number],
  ][];
  const owned = ranges.filter(([, , [, port]]) => port === master.port);
  for (let i = 0; i < 10_000; i++) {
    const name = `${base}-${i}`;
    const slot = keySlot(mutexKeys('latchkey:', name).lock);
    if (owned.some(([first, last]) => first <= slot && slot <= last)) return name;
  }
  throw new Error(`no name found on ${master.port}`);
}

/**
 * Holds `name` in `holders` for `ttlMs`, has `waiters` wait for it, runs `between` (a change of
 * the cluster) and releases. The waiter must get the lock with a larger fencing token; resolves
 * the ms from the release to the grant.
 */
export async function handOver(
  holders: Locker,
  waiters: Locker,
  name: string,
  ttlMs: number,
  between?: () => Promise<void>,
): Promise<number> {
  const held = await holders.acquire(name, { ttlMs });
  const waiting = waiters.acquire(name, { ttlMs, waitMs: ttlMs });
  await new Promise((resolve) => setTimeout(resolve, 200)); // the waiter is subscribed and in line
  await between?.();
  const releasedAt = performance.now();
  expect((await held.release()).released).toBe(true);
  const next = await waiting;
  const ms = performance.now() - releasedAt;
  expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
  await next.release();
  return ms;
}
