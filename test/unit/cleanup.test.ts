/**
 * The schedule of clean-ups of abandoned tokens, with a stand-in for the backend's withdraw: which
 * attempts are made, and when, is pure logic; what a clean-up does in Redis is tested on real
 * servers in the conformance suite.
 */
import { describe, expect, it } from 'vitest';
import { CleanUps } from '../../src/core/clean-ups.js';
import { LockBackendError } from '../../src/errors.js';

/** A withdraw whose every run is answered by `answer`, recording when each run started. */
function fakeWithdraw(answer: (run: number) => Promise<unknown>): {
  withdraw: () => Promise<unknown>;
  startedAt: number[];
} {
  const startedAt: number[] = [];
  const withdraw = () => {
    startedAt.push(performance.now());
    return answer(startedAt.length);
  };
  return { withdraw, startedAt };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('CleanUps', () => {
  it('CleanUps › a clean-up that ran once the token’s last command settled is not repeated', async () => {
    const { withdraw, startedAt } = fakeWithdraw(async () => 'released');
    const cleanUps = new CleanUps(new AbortController().signal);
    cleanUps.add({ what: 'k', withdraw, token: 'a', lastCommand: undefined, mattersForMs: 60_000 });
    await cleanUps.settle();
    expect(startedAt).toHaveLength(1);
  });

  it('CleanUps › runs again at once when the last command settles while the first clean-up runs', async () => {
    const lastCommand = deferred();
    const { withdraw, startedAt } = fakeWithdraw(async (run) => {
      // The late command settles while the first clean-up is on its way: it may have run after it.
      if (run === 1) lastCommand.resolve();
      await new Promise((resolve) => setTimeout(resolve, 5));
      return 'released';
    });
    const cleanUps = new CleanUps(new AbortController().signal);
    const added = performance.now();
    cleanUps.add({
      what: 'k',
      withdraw,
      token: 'b',
      lastCommand: lastCommand.promise,
      mattersForMs: 60_000,
    });
    await cleanUps.settle();
    expect(startedAt).toHaveLength(2);
    // Not at the give-up time 60 s later: right after the first one.
    expect((startedAt[1] ?? Number.POSITIVE_INFINITY) - added).toBeLessThan(1_000);
  });

  it('CleanUps › runs again when the last command settles after the first clean-up', async () => {
    const lastCommand = deferred();
    const { withdraw, startedAt } = fakeWithdraw(async () => 'released');
    const cleanUps = new CleanUps(new AbortController().signal);
    cleanUps.add({
      what: 'k',
      withdraw,
      token: 'c',
      lastCommand: lastCommand.promise,
      mattersForMs: 60_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(startedAt).toHaveLength(1);
    lastCommand.resolve();
    await cleanUps.settle();
    expect(startedAt).toHaveLength(2);
  });

  it('CleanUps › a failed clean-up is retried with backoff until one succeeds', async () => {
    const { withdraw, startedAt } = fakeWithdraw(async (run) => {
      if (run < 3) throw new LockBackendError('BUSY');
      return 'released';
    });
    const cleanUps = new CleanUps(new AbortController().signal);
    cleanUps.add({ what: 'k', withdraw, token: 'd', lastCommand: undefined, mattersForMs: 60_000 });
    await cleanUps.settle();
    expect(startedAt).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = startedAt;
    expect(third - second).toBeGreaterThanOrEqual(second - first);
  });

  it('CleanUps › close ends the retries after one last attempt', async () => {
    const closed = new AbortController();
    const { withdraw, startedAt } = fakeWithdraw(async () => {
      throw new LockBackendError('BUSY');
    });
    const cleanUps = new CleanUps(closed.signal);
    cleanUps.add({ what: 'k', withdraw, token: 'e', lastCommand: undefined, mattersForMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    closed.abort();
    await cleanUps.settle();
    expect(startedAt).toHaveLength(2);
  });

  it('CleanUps › a grant for a token being cleaned up ends the backoff at once', async () => {
    const { withdraw, startedAt } = fakeWithdraw(async (run) => {
      if (run === 1) throw new LockBackendError('BUSY');
      return 'released';
    });
    const cleanUps = new CleanUps(new AbortController().signal);
    cleanUps.add({ what: 'k', withdraw, token: 'f', lastCommand: undefined, mattersForMs: 60_000 });
    expect(cleanUps.granted('f')).toBe(true);
    expect(cleanUps.granted('unknown')).toBe(false);
    await cleanUps.settle();
    expect(startedAt).toHaveLength(2);
  });
});
