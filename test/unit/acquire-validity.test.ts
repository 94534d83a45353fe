/**
 * The acquire loop's rule for a reply that arrives late: which validity it leaves the caller. The
 * store is a stand-in that answers "acquired" after a chosen delay (what Redis decides is tested
 * on real servers in the conformance suite; here only the client's arithmetic is).
 */
import { describe, expect, it } from 'vitest';
import { type AcquireContext, acquire } from '../../src/core/acquire-loop.js';
import type { LockStore, Waker } from '../../src/core/backend.js';
import { LOCK_ERROR_CODES } from '../../src/errors.js';
import { resolveLockerOptions, resolveLockOptions } from '../../src/options.js';

const context: AcquireContext = {
  session: {
    waker: {} as Waker,
    commandTimeoutMs: 2_000,
    checkServer: async () => {},
  },
  closed: new AbortController().signal,
};

/** A store whose attempts answer "acquired" after `afterMs`; records the tokens it abandons. */
function storeAnswering(afterMs: number, abandoned: string[]): LockStore {
  return {
    kind: 'mutex',
    name: 'n',
    waitKey: 'n',
    attempt: async () => {
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      return { kind: 'acquired', fencingToken: 7 };
    },
    extend: () => Promise.reject(new Error('not used')),
    release: () => Promise.reject(new Error('not used')),
    abandon: (token) => abandoned.push(token),
  };
}

// ttl 1000 ms with driftFactor 0.4: validity 598 ms from the send, drift allowance 402 ms.
const options = resolveLockOptions(resolveLockerOptions({ driftFactor: 0.4 }), {
  ttlMs: 1_000,
  waitMs: 0,
});

describe('acquire loop', () => {
  it('acquire loop › a reply with most of its validity left is a lock', async () => {
    const abandoned: string[] = [];
    const acquired = await acquire(context, storeAnswering(0, abandoned), options, undefined);
    expect(acquired.fencingToken).toBe(7);
    expect(abandoned).toHaveLength(0);
  });

  it('acquire loop › a reply that leaves less validity than the drift allowance is given back', async () => {
    const abandoned: string[] = [];
    // 400 ms late: 198 ms of validity left, less than the 402 ms allowance.
    await expect(
      acquire(context, storeAnswering(400, abandoned), options, undefined),
    ).rejects.toMatchObject({ code: LOCK_ERROR_CODES.timeout });
    expect(abandoned).toHaveLength(1);
  });
});
