/**
 * What the semaphore's scripts write and tell, on a real redis-server, driven by hand: the grant
 * messages (one per waiter granted, exact numbers), strict FIFO, dead heads skipped, a waiter
 * leaving the head lets the next in, a holder's own expiry, and no key without expiry once idle
 * (the fencing counter aside), and a holder keeping fewer permits (the read-write downgrade). Runs
 * on ioredis only: the scripts decide all of it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type SemaphoreKeys, semaphoreKeys } from '../../src/backends/redis/keys.js';
import type { ScriptRunner } from '../../src/backends/redis/script-runner.js';
import { FENCE_KEEP_MS, QUEUE_MODE } from '../../src/backends/redis/scripts/index.js';
import {
  semaphoreAcquire,
  semaphoreExtend,
  semaphoreInspect,
  semaphoreReduce,
  semaphoreRelease,
} from '../../src/backends/redis/scripts/semaphore.js';
import { LockKeyConflictError } from '../../src/errors.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { sleep, token, until, useScriptServer } from '../helpers/script-harness.js';

/** A last fencing token above the server clock in µs (4 × 10^15 µs is in 2096). */
const BIG_FENCE = 4 * 10 ** 15;
const PREFIX = 'latchkey:';
const harness = useScriptServer();
const { listen } = harness;
let server: RedisServer;
let runner: ScriptRunner;
beforeAll(() => {
  server = harness.server();
  runner = harness.runner();
});
let counter = 0;
const fresh = (label: string) => semaphoreKeys(PREFIX, `${label}:${++counter}`);

interface Try {
  readonly permits?: number;
  readonly limit?: number;
  readonly ttlMs?: number;
  readonly mode?: keyof typeof QUEUE_MODE;
  readonly channel?: string;
  readonly attempt?: number;
}

function attempt(keys: SemaphoreKeys, who: string, t: Try = {}) {
  return runner.run(semaphoreAcquire, keys, {
    token: who,
    ttlMs: t.ttlMs ?? 10_000,
    queueMode: QUEUE_MODE[t.mode ?? 'join'],
    sleepCapMs: 5_000,
    graceMs: 2_000,
    channel: t.channel ?? 'latchkey:wake:nobody',
    attempt: t.attempt ?? 1,
    polls: true,
    queueLifeMs: 22_000,
    limit: t.limit ?? 3,
    permits: t.permits ?? 1,
  });
}

/** The grant messages among a channel's messages, and the "next in line" notices. */
const grants = (messages: readonly string[]) => messages.filter((m) => !m.includes(' next '));
const notices = (messages: readonly string[]) => messages.filter((m) => m.includes(' next '));

const release = (keys: SemaphoreKeys, who: string, withdraw = false) =>
  runner.run(semaphoreRelease, keys, { token: who, withdraw });

describe('semaphore scripts', () => {
  it('semaphore scripts › a release grants every queued waiter that fits, one message each, in order', async () => {
    const keys = fresh('grants');
    const channel = 'latchkey:wake:grants';
    const messages = await listen(channel);
    expect(await attempt(keys, token(1), { permits: 3 })).toMatchObject({ kind: 'acquired' });
    for (const [n, permits] of [
      [2, 1],
      [3, 2],
      [4, 1],
    ] as const) {
      expect(await attempt(keys, token(n), { permits, channel, attempt: n })).toMatchObject({
        kind: 'held',
      });
    }
    expect(await release(keys, token(1))).toBe('handed-over');
    // 3 permits come free: the waiters wanting 1 and 2 fit; the one wanting 1 after them waits.
    await until('two grant messages', () => grants(messages).length >= 2);
    await sleep(50);
    const parsed = grants(messages).map((m) => m.split(' '));
    expect(parsed.map(([who]) => who)).toEqual([token(2), token(3)]);
    expect(parsed.map(([, , after]) => after)).toEqual(['2', '3']);
    // Each holds for the claim window until it claims the grant; the waiter that did not fit is
    // told when that window ends.
    expect(parsed.map(([, , , claimMs]) => claimMs)).toEqual(['500', '500']);
    expect(notices(messages)).toEqual([`${token(4)} next 500`]);
    const fences = parsed.map(([, fence]) => Number(fence));
    expect(fences[1]).toBeGreaterThan(fences[0] ?? 0);
    const state = await runner.run(semaphoreInspect, keys, undefined as never);
    expect(state.holders.map((h) => h.token).sort()).toEqual([token(2), token(3)].sort());
    expect(state.holders.find((h) => h.token === token(3))?.permits).toBe(2);
    expect(state.waiters).toBe(1);
    // A granted waiter's next attempt picks the grant up with the fence the message named.
    expect(await attempt(keys, token(2), { mode: 'queued', channel })).toEqual({
      kind: 'acquired',
      fencingToken: fences[0],
    });
  });

  it('semaphore scripts › strict FIFO: a newcomer does not pass a queued waiter even when its permit is free', async () => {
    const keys = fresh('fifo');
    const channel = 'latchkey:wake:fifo';
    await listen(channel);
    expect(await attempt(keys, token(1), { permits: 2 })).toMatchObject({ kind: 'acquired' });
    expect(await attempt(keys, token(2), { permits: 2, channel })).toMatchObject({ kind: 'held' });
    // One permit is free, but the waiter ahead wants two.
    expect(await attempt(keys, token(3), { mode: 'never' })).toMatchObject({ kind: 'held' });
    // The head gives up: the newcomer behind it may go now.
    expect(await release(keys, token(2), true)).toBe('missing');
    expect(await attempt(keys, token(3), { mode: 'never' })).toMatchObject({ kind: 'acquired' });
  });

  it('semaphore scripts › a waiter leaving the head of the line lets the ones behind it in', async () => {
    const keys = fresh('leave-head');
    const channel = 'latchkey:wake:leave-head';
    const messages = await listen(channel);
    await attempt(keys, token(1), { permits: 2 });
    await attempt(keys, token(2), { permits: 2, channel });
    await attempt(keys, token(3), { permits: 1, channel, attempt: 7 });
    await release(keys, token(2), true);
    await until('the grant to the waiter behind', () => messages.length === 1);
    expect(messages[0]?.split(' ')[0]).toBe(token(3));
    expect(messages[0]?.split(' ')[2]).toBe('7');
  });

  it('semaphore scripts › dead and unsubscribed heads are skipped, and the live one behind granted', async () => {
    const keys = fresh('skip');
    const channel = 'latchkey:wake:skip';
    const messages = await listen(channel);
    await attempt(keys, token(1), { permits: 3 });
    await attempt(keys, token(2), { channel: 'latchkey:wake:nobody-listens' });
    await attempt(keys, token(3), { channel });
    // Push a third waiter's entry into the past: it gave up without leaving.
    await attempt(keys, token(4), { channel });
    const entry = String(await server.command('HGET', keys.waiters, token(4)));
    await server.command('HSET', keys.waiters, token(4), entry.replace(/^\d+/, '1'));
    expect(await release(keys, token(1))).toBe('handed-over');
    await until('the grant', () => messages.length >= 1);
    await sleep(50);
    expect(messages.map((m) => m.split(' ')[0])).toEqual([token(3)]);
    expect(Number(await server.command('ZCARD', keys.queue))).toBe(0);
  });

  it('semaphore scripts › each holder has its own expiry, and expired permits come back without a release', async () => {
    const keys = fresh('expiry');
    await attempt(keys, token(1), { permits: 2, ttlMs: 150 });
    await attempt(keys, token(2), { permits: 1, ttlMs: 10_000 });
    expect(await attempt(keys, token(3), { permits: 2, mode: 'never' })).toMatchObject({
      kind: 'held',
    });
    await sleep(250);
    expect(await attempt(keys, token(3), { permits: 2, mode: 'never' })).toMatchObject({
      kind: 'acquired',
    });
    expect(await runner.run(semaphoreExtend, keys, { token: token(1), ttlMs: 1_000 })).toEqual({
      kind: 'missing',
    });
    expect(await release(keys, token(1))).toBe('missing');
  });

  it('semaphore scripts › the held reply says when the earliest holder expires', async () => {
    const keys = fresh('pttl');
    await attempt(keys, token(1), { ttlMs: 5_000 });
    await attempt(keys, token(2), { ttlMs: 2_000 });
    await attempt(keys, token(3), { ttlMs: 8_000 });
    const reply = await attempt(keys, token(4), { mode: 'never' });
    expect(reply.kind).toBe('held');
    if (reply.kind === 'held') {
      expect(reply.pttlMs).toBeGreaterThan(1_500);
      expect(reply.pttlMs).toBeLessThanOrEqual(2_000);
    }
  });

  it('semaphore scripts › another limit is refused while in use; the limit key goes when idle', async () => {
    const keys = fresh('limit');
    await attempt(keys, token(1), { limit: 2 });
    expect(await attempt(keys, token(2), { limit: 4 })).toEqual({
      kind: 'limit-mismatch',
      limit: 2,
    });
    expect(await release(keys, token(1))).toBe('released');
    expect(Number(await server.command('EXISTS', keys.limit))).toBe(0);
    expect(await attempt(keys, token(2), { limit: 4, permits: 4 })).toMatchObject({
      kind: 'acquired',
    });
  });

  it('semaphore scripts › extend never shortens, and a release run twice with a tombstone says released twice', async () => {
    const keys = fresh('extend');
    await attempt(keys, token(1), { ttlMs: 10_000 });
    const short = await runner.run(semaphoreExtend, keys, { token: token(1), ttlMs: 200 });
    expect(short.kind === 'extended' && short.pttlMs > 9_000).toBe(true);
    const long = await runner.run(semaphoreExtend, keys, { token: token(1), ttlMs: 30_000 });
    expect(long.kind === 'extended' && long.pttlMs > 29_000).toBe(true);
    const twice = { token: token(1), withdraw: false, tombstoneMs: 1_000 };
    expect(await runner.run(semaphoreRelease, keys, twice)).toBe('released');
    expect(await runner.run(semaphoreRelease, keys, twice)).toBe('released');
    expect(await release(keys, token(1))).toBe('missing');
  });

  it('semaphore scripts › once idle, every key of the name has an expiry, the fencing counter its minute', async () => {
    const keys = fresh('leftovers');
    const channel = 'latchkey:wake:leftovers';
    await listen(channel);
    await attempt(keys, token(1), { permits: 3 });
    await attempt(keys, token(2), { channel });
    await release(keys, token(1));
    await release(keys, token(2));
    const names = (await server.command('KEYS', `${keys.lock}*`)) as string[];
    for (const key of names) {
      const pttl = Number(await server.command('PTTL', key));
      expect(pttl, key).toBeGreaterThan(0);
      if (key === keys.fence) expect(pttl).toBeLessThanOrEqual(FENCE_KEEP_MS);
    }
    expect(names).toContain(keys.fence);
    expect(names).not.toContain(keys.limit);
  });
  it('semaphore scripts › a holder keeping fewer permits lets the waiters that now fit in, keeping its fence', async () => {
    const keys = fresh('reduce');
    const channel = 'latchkey:wake:reduce';
    const messages = await listen(channel);
    const held = await attempt(keys, token(1), { permits: 3, ttlMs: 30_000 });
    expect(held).toMatchObject({ kind: 'acquired' });
    for (const [n, permits] of [
      [2, 1],
      [3, 1],
      [4, 2],
    ] as const) {
      await attempt(keys, token(n), { permits, channel, attempt: n });
    }
    const reduce = (who: string, permits: number) =>
      runner.run(semaphoreReduce, keys, { token: who, permits });
    expect(await reduce(token(1), 1)).toBe('reduced');
    // Two permits came free: the two waiters wanting 1 come in; the one wanting 2 waits.
    await until('two grant messages', () => grants(messages).length >= 2);
    await sleep(50);
    expect(grants(messages).map((m) => m.split(' ')[0])).toEqual([token(2), token(3)]);
    expect(notices(messages)).toEqual([`${token(4)} next 500`]);
    const state = await runner.run(semaphoreInspect, keys, undefined as never);
    const kept = state.holders.find((h) => h.token === token(1));
    expect(kept).toMatchObject({
      permits: 1,
      fencingToken: held.kind === 'acquired' ? held.fencingToken : -1,
    });
    expect(kept?.remainingMs).toBeGreaterThan(29_000);
    expect(state.waiters).toBe(1);
    // Growing a hold would pass the line: refused (a caller's bug, so the descriptor throws).
    await expect(reduce(token(1), 2)).rejects.toThrow(/unexpected script reply -2/);
    expect(await reduce(token(9), 1)).toBe('missing');
    await release(keys, token(1));
    expect(await reduce(token(1), 1)).toBe('missing');
  });
  it('semaphore scripts › at most 64 dead heads are dropped per call; the next call drops the rest and grants the live one', async () => {
    const keys = fresh('many-dead');
    const channel = 'latchkey:wake:many-dead';
    const messages = await listen(channel);
    const first = await attempt(keys, token(1), { limit: 1 });
    expect(first).toMatchObject({ kind: 'acquired' });
    const firstFence = (first as { fencingToken: number }).fencingToken;
    const [seconds] = (await server.command('TIME')) as [string, string];
    const pastMs = Number(seconds) * 1000 - 1_000;
    for (let i = 0; i < 70; i++) {
      const dead = token(100 + i);
      await server.command('ZADD', keys.queue, i + 1, dead);
      await server.command('HSET', keys.waiters, dead, `${pastMs} 5000 1 1 ${channel}`);
    }
    await server.command('ZADD', keys.queue, 1_000, token(2));
    await server.command('HSET', keys.waiters, token(2), `${pastMs + 61_000} 5000 3 1 ${channel}`);
    expect(await release(keys, token(1))).toBe('released');
    expect(Number(await server.command('ZCARD', keys.queue))).toBe(7);
    // A newcomer's attempt drops the other 6 and grants the live waiter; it does not overtake it.
    expect(await attempt(keys, token(3), { limit: 1 })).toMatchObject({ kind: 'held' });
    await until('the live waiter was told', () => messages.length === 1);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(new RegExp(`^${token(2)} \\d+ 3 500 \\d+$`));
    expect(Number(messages[0]?.split(' ')[1])).toBeGreaterThan(firstFence);
  });

  it('semaphore scripts › fencing tokens above 10^14 are exact in the grant message and the record', async () => {
    const keys = fresh('big-fence');
    const channel = 'latchkey:wake:big-fence';
    const messages = await listen(channel);
    // Above the server clock in µs (2096), so each next token is exactly one more.
    await server.command('SET', keys.fence, String(BIG_FENCE));
    expect(await attempt(keys, token(1), { limit: 1 })).toEqual({
      kind: 'acquired',
      fencingToken: BIG_FENCE + 1,
    });
    await attempt(keys, token(2), { limit: 1, channel });
    expect(await release(keys, token(1))).toBe('handed-over');
    await until('the waiter was told', () => messages.length === 1);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(new RegExp(`^${token(2)} ${BIG_FENCE + 2} 1 500 \\d+$`));
    const state = await runner.run(semaphoreInspect, keys, undefined as never);
    expect(state.lastFencingToken).toBe(BIG_FENCE + 2);
    expect(state.holders.map((h) => h.fencingToken)).toEqual([BIG_FENCE + 2]);
  });

  it('semaphore scripts › a holders key of another type is a key conflict naming it', async () => {
    const keys = fresh('conflict');
    await server.command('SET', keys.lock, 'not a zset');
    const refused = attempt(keys, token(1));
    await expect(refused).rejects.toBeInstanceOf(LockKeyConflictError);
    await expect(refused).rejects.toMatchObject({ key: keys.lock });
  });

  it('semaphore scripts › a queued caller whose entry vanished is queued again, at the end', async () => {
    const keys = fresh('requeue');
    await attempt(keys, token(1), { limit: 1 });
    const again = { limit: 1, mode: 'queued', channel: 'latchkey:wake:requeue' } as const;
    expect(await attempt(keys, token(2), again)).toMatchObject({ kind: 'held', requeued: true });
    expect(await attempt(keys, token(2), again)).toMatchObject({ kind: 'held', requeued: false });
    expect(await server.command('ZRANGE', keys.queue, 0, -1)).toEqual([token(2)]);
  });
});
