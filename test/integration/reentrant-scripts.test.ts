/**
 * What the reentrant lock's scripts write and tell, on a real redis-server, driven by hand: an
 * owner's acquisitions counted by token (a retried attempt counts once), the hold ending with the
 * owner's last entry, one grant message to the head of the line naming its token, a queued
 * acquisition of the new holder's owner joining its hold, and no key without expiry once idle
 * (the fencing counter aside). Runs on ioredis only: the scripts decide all of it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ReentrantKeys, reentrantKeys } from '../../src/backends/redis/keys.js';
import type { ScriptRunner } from '../../src/backends/redis/script-runner.js';
import { FENCE_KEEP_MS, QUEUE_MODE } from '../../src/backends/redis/scripts/index.js';
import {
  reentrantAcquire,
  reentrantExtend,
  reentrantInspect,
  reentrantRelease,
} from '../../src/backends/redis/scripts/reentrant.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { sleep, token, until, useScriptServer } from '../helpers/script-harness.js';

const harness = useScriptServer();
let server: RedisServer;
let runner: ScriptRunner;
beforeAll(() => {
  server = harness.server();
  runner = harness.runner();
});
let counter = 0;
const fresh = (label: string) => reentrantKeys('latchkey:', `${label}:${++counter}`);

function attempt(
  keys: ReentrantKeys,
  who: string,
  owner: string,
  t: { mode?: keyof typeof QUEUE_MODE; channel?: string; attempt?: number; ttlMs?: number } = {},
) {
  return runner.run(reentrantAcquire, keys, {
    token: who,
    ttlMs: t.ttlMs ?? 10_000,
    queueMode: QUEUE_MODE[t.mode ?? 'join'],
    sleepCapMs: 5_000,
    graceMs: 2_000,
    channel: t.channel ?? 'latchkey:wake:nobody',
    attempt: t.attempt ?? 1,
    polls: true,
    queueLifeMs: 22_000,
    owner,
  });
}

const release = (keys: ReentrantKeys, who: string) =>
  runner.run(reentrantRelease, keys, { token: who, withdraw: false });
const inspect = (keys: ReentrantKeys) => runner.run(reentrantInspect, keys, undefined as never);

describe('reentrant scripts', () => {
  it('reentrant scripts › an owner’s acquisitions count by token, a retry once, and share one fence', async () => {
    const keys = fresh('count');
    const first = await attempt(keys, token(1), 'job');
    expect(first).toMatchObject({ kind: 'acquired', holdCount: 1 });
    expect(await attempt(keys, token(1), 'job')).toMatchObject({ holdCount: 1 });
    const second = await attempt(keys, token(2), 'job');
    expect(second).toMatchObject({ kind: 'acquired', holdCount: 2 });
    expect(second.kind === 'acquired' && first.kind === 'acquired').toBe(true);
    if (second.kind === 'acquired' && first.kind === 'acquired') {
      expect(second.fencingToken).toBe(first.fencingToken);
    }
    expect(await attempt(keys, token(3), 'other', { mode: 'never' })).toMatchObject({
      kind: 'held',
    });
    expect(await release(keys, token(1))).toBe('released');
    expect((await inspect(keys)).holder).toMatchObject({ owner: 'job', holdCount: 1 });
    expect(await release(keys, token(1))).toBe('missing');
    expect(await release(keys, token(2))).toBe('released');
    expect((await inspect(keys)).holder).toBeUndefined();
  });

  it('reentrant scripts › the last release grants the head of the line, one message naming its token', async () => {
    const keys = fresh('grant');
    const channel = 'latchkey:wake:re-grant';
    const messages = await harness.listen(channel);
    await attempt(keys, token(1), 'a');
    expect(await attempt(keys, token(2), 'b', { channel, attempt: 5 })).toMatchObject({
      kind: 'held',
    });
    expect(await attempt(keys, token(3), 'b', { channel, attempt: 2 })).toMatchObject({
      kind: 'held',
    });
    expect(await release(keys, token(1))).toBe('handed-over');
    await until('a grant message', () => messages.length >= 1);
    await sleep(50);
    // One grant; the acquisition behind it (of the same owner, but not yet holding) is told when
    // the grant's claim window ends.
    expect(messages).toHaveLength(2);
    const [who, fence, forAttempt, claimMs] = (messages[0] ?? '').split(' ');
    expect([who, forAttempt, claimMs]).toEqual([token(2), '5', '500']);
    expect(messages[1]).toBe(`${token(3)} next 500`);
    expect((await inspect(keys)).holder).toMatchObject({
      owner: 'b',
      holdCount: 1,
      fencingToken: Number(fence),
    });
    // The other acquisition of b, still queued, joins b's hold on its next attempt.
    expect(await attempt(keys, token(3), 'b', { mode: 'queued', channel })).toEqual({
      kind: 'acquired',
      fencingToken: Number(fence),
      holdCount: 2,
    });
    expect((await inspect(keys)).waiters).toBe(0);
    const extended = await runner.run(reentrantExtend, keys, { token: token(3), ttlMs: 30_000 });
    expect(extended.kind === 'extended' && extended.pttlMs > 29_000).toBe(true);
    expect(await release(keys, token(2))).toBe('released');
    expect(await release(keys, token(3))).toBe('released');
  });

  it('reentrant scripts › once idle, every key of the name has an expiry, the fencing counter its minute', async () => {
    const keys = fresh('leftovers');
    const channel = 'latchkey:wake:re-leftovers';
    await harness.listen(channel);
    await attempt(keys, token(1), 'a');
    await attempt(keys, token(2), 'a');
    await attempt(keys, token(3), 'b', { channel });
    await release(keys, token(1));
    await release(keys, token(2));
    await release(keys, token(3));
    const names = (await server.command('KEYS', `${keys.lock}*`)) as string[];
    for (const key of names) {
      const pttl = Number(await server.command('PTTL', key));
      expect(pttl, key).toBeGreaterThan(0);
      if (key === keys.fence) expect(pttl).toBeLessThanOrEqual(FENCE_KEEP_MS);
    }
    expect(names).toContain(keys.fence);
  });
});
