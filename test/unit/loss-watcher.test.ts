/**
 * The loss watcher's bookkeeping (pure logic: the watcher connection is a stand-in whose reads the
 * test answers). What Redis reports is tested on real servers in the conformance suite; here, the
 * order in which reads and watches interleave, which a real server makes too rare to hit on purpose.
 */
import { describe, expect, it } from 'vitest';
import type { RedisAdapter, RedisKeyWatcher } from '../../src/backends/redis/adapter.js';
import { LossWatcher } from '../../src/backends/redis/loss-watcher.js';

/** A watcher connection whose reads stay pending until the test answers them, oldest first. */
function pendingReads() {
  const reads: { key: string; answer: (value: string | null) => void }[] = [];
  let report: (keys: readonly string[] | null) => void = () => {};
  const watcher: RedisKeyWatcher = {
    read: (key) => new Promise((answer) => reads.push({ key, answer })),
    onReconnect: () => {},
    close: async () => {},
  };
  const adapter = {
    createKeyWatcher: async (onChanged: (keys: readonly string[] | null) => void) => {
      report = onChanged;
      return watcher;
    },
  } as unknown as RedisAdapter;
  return {
    adapter,
    reads,
    changed: (key: string) => report([key]),
    /** Lets the watcher's own awaits run, so that a read it is about to send is sent. */
    settle: () => new Promise((resolve) => setTimeout(resolve, 0)),
  };
}

describe('loss watcher', () => {
  it('a read sent before a lock was watched does not report that lock lost', async () => {
    const redis = pendingReads();
    const watcher = new LossWatcher(redis.adapter, 1_000);
    const lost: string[] = [];
    // The first holder's key is deleted under it: the change is reported, a read is sent.
    const stopFirst = watcher.watch('k', 'token-1', (reason) => lost.push(`1 ${reason}`));
    await redis.settle();
    redis.reads.shift()?.answer('token-1');
    redis.changed('k');
    await redis.settle();
    expect(redis.reads).toHaveLength(1);
    const staleRead = redis.reads.shift();
    // Before its reply comes, the first holder releases and a second one acquires the key.
    stopFirst();
    watcher.watch('k', 'token-2', (reason) => lost.push(`2 ${reason}`));
    await redis.settle();
    // The stale read finds the key empty: from before the second holder's SET.
    staleRead?.answer(null);
    await redis.settle();
    expect(lost).toEqual([]);
    // The second holder's own read is what counts for it.
    redis.reads.shift()?.answer('someone-else');
    await redis.settle();
    expect(lost).toEqual(['2 taken']);
    await watcher.close();
  });

  it('a holder watching when the read was sent is told when the key no longer holds its token', async () => {
    const redis = pendingReads();
    const watcher = new LossWatcher(redis.adapter, 1_000);
    const lost: string[] = [];
    watcher.watch('k', 'token-1', (reason) => lost.push(reason));
    await redis.settle();
    redis.reads.shift()?.answer('token-1');
    redis.changed('k');
    await redis.settle();
    redis.reads.shift()?.answer(null);
    await redis.settle();
    expect(lost).toEqual(['expired']);
    await watcher.close();
  });

  it('a holder that stopped watching while the read was under way is not told', async () => {
    const redis = pendingReads();
    const watcher = new LossWatcher(redis.adapter, 1_000);
    const lost: string[] = [];
    const stop = watcher.watch('k', 'token-1', (reason) => lost.push(reason));
    await redis.settle();
    stop();
    redis.reads.shift()?.answer(null);
    await redis.settle();
    expect(lost).toEqual([]);
    await watcher.close();
  });
});
