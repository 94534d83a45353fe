/**
 * The acquire loop's rule for a reply that arrives late: which validity it leaves the caller. The
 * runner is a stand-in that answers "acquired" after a chosen delay (what Redis decides is tested
 * on real servers in the conformance suite; here only the client's arithmetic is).
 */
import { describe, expect, it } from 'vitest';
import type { Abandoned } from '../../src/backends/redis/cleanup.js';
import { MutexKeyCache } from '../../src/backends/redis/keys.js';
import type { ScriptRunner } from '../../src/backends/redis/script-runner.js';
import { LOCK_ERROR_CODES } from '../../src/errors.js';
import { type AcquireContext, acquireMutex } from '../../src/locks/acquire.js';
import { resolveLockerOptions, resolveLockOptions } from '../../src/options.js';
import type { PubSubWaker } from '../../src/wake/pubsub-waker.js';

function contextAnswering(afterMs: number, abandoned: Abandoned[]): AcquireContext {
  const runner = {
    checkServer: async () => {},
    run: async () => {
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      return { kind: 'acquired', fencingToken: 7 };
    },
  } as unknown as ScriptRunner;
  return {
    runner,
    waker: { channel: 'latchkey:wake:test' } as unknown as PubSubWaker,
    keys: new MutexKeyCache('t:'),
    closed: new AbortController().signal,
    cleanUp: (token) => abandoned.push(token),
  };
}

// ttl 1000 ms with driftFactor 0.4: validity 598 ms from the send, drift allowance 402 ms.
const options = resolveLockOptions(resolveLockerOptions({ driftFactor: 0.4 }), {
  ttlMs: 1_000,
  waitMs: 0,
});

describe('acquireMutex', () => {
  it('acquireMutex › a reply with most of its validity left is a lock', async () => {
    const abandoned: Abandoned[] = [];
    const acquired = await acquireMutex(contextAnswering(0, abandoned), 'n', options, undefined);
    expect(acquired.fencingToken).toBe(7);
    expect(abandoned).toHaveLength(0);
  });

  it('acquireMutex › a reply that leaves less validity than the drift allowance is given back', async () => {
    const abandoned: Abandoned[] = [];
    // 400 ms late: 198 ms of validity left, less than the 402 ms allowance.
    await expect(
      acquireMutex(contextAnswering(400, abandoned), 'n', options, undefined),
    ).rejects.toMatchObject({ code: LOCK_ERROR_CODES.timeout });
    expect(abandoned).toHaveLength(1);
  });
});
