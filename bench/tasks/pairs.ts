/** Uncontended: sequential acquire+release pairs on one key, each next to a PING on the same client. */
import { nowUs } from '../clock.js';
import type { LockClient } from '../libs/types.js';
import type { PairsResult } from '../protocol.js';

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
