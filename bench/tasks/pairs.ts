/** Uncontended: sequential acquire+release pairs on one key, each next to a PING on the same client. */
import { nowUs } from '../clock.js';
import type { LockClient } from '../libs/types.js';
import { namePicker } from '../mix.js';
import type { FamilyRun, PairsResult } from '../protocol.js';
import { acquireFamily } from './contend.js';

export async function runPairs(
  client: LockClient,
  key: string,
  pairs: number,
  ttlMs: number,
): Promise<PairsResult> {
  const pairUs: number[] = [];
  const pingUs: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const beforePing = nowUs();
    await client.ping();
    const beforePair = nowUs();
    const held = await client.acquire(key, ttlMs);
    if (!held) throw new Error(`uncontended acquire of ${key} gave up`);
    await held.release();
    const after = nowUs();
    pingUs.push(beforePair - beforePing);
    pairUs.push(after - beforePair);
  }
  return { pairUs, pingUs };
}

/**
 * Warm-up for the read-write scenarios: `pairs` read and `pairs` write acquire+release pairs on
 * `key`, so the read-write lock's scripts are cached in Redis and its code is compiled before any
 * clock starts, as the mutex's are by runPairs.
 */
export async function runReadWritePairs(
  client: LockClient,
  key: string,
  pairs: number,
  ttlMs: number,
): Promise<void> {
  const { acquireRead, acquireWrite } = client;
  if (!acquireRead || !acquireWrite) throw new Error('this library has no read-write lock');
  for (let i = 0; i < pairs; i++) {
    for (const take of [acquireRead, acquireWrite]) {
      const held = await take.call(client, key, ttlMs);
      if (!held) throw new Error(`uncontended read-write acquire of ${key} gave up`);
      await held.release();
    }
  }
}

/** Uncontended acquisitions of a lock-family kind, one after another (warm-up). */
export async function runFamilyPairs(
  client: LockClient,
  key: string,
  family: FamilyRun,
  pairs: number,
): Promise<void> {
  const pick = namePicker(family.seed, family.names, family.pick);
  for (let i = 0; i < pairs; i++) {
    const held = await acquireFamily(client, family.kind, key, pick(), 10_000);
    if (!held) throw new Error(`uncontended ${family.kind} acquire of ${key} gave up`);
    await held.release();
  }
}
