/**
 * The acquire loop's rule for a reply that arrives late: which validity it leaves the caller. The
 * store is a stand-in that answers "acquired" after a chosen delay (what Redis decides is tested
 * on real servers in the conformance suite; here only the client's arithmetic is).
 */
import { describe, expect, it } from 'vitest';
import { type AcquireContext, acquire, grantValidUntil } from '../../src/core/acquire-loop.js';
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
  driftFactor: 0.4,
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

describe('acquire loop › validity of a grant', () => {
  const ttl10s = resolveLockOptions(resolveLockerOptions({}), { ttlMs: 10_000 });
  const grant = { fencingToken: 9, afterAttempt: 3 };
  const attemptAtUs = 1_800_000_000_000_000;

  it('a grant for the ttl counts the ttl from the attempt’s send time, less drift', () => {
    expect(grantValidUntil(grant, 1_000, attemptAtUs, ttl10s, context)).toBe(1_000 + 10_000 - 102);
  });

  it('a grant for a claim window counts the window from the grant, placed by the server time since the attempt', () => {
    // Granted 2 s (server time) after Redis ran the attempt sent at 1,000 ms: the window of 500 ms
    // ends at 3,500 ms on our clock at the latest; drift is 40 % of the 2.5 s counted, plus 2 ms.
    const claim = { ms: 500, grantedAtUs: attemptAtUs + 2_000_000 };
    expect(grantValidUntil({ ...grant, claim }, 1_000, attemptAtUs, ttl10s, context)).toBe(
      1_000 + 2_500 - (Math.floor(2_500 * 0.4) + 2),
    );
  });

  it('a claim window without the attempt’s server time cannot be placed: not valid at all', () => {
    const claim = { ms: 500, grantedAtUs: attemptAtUs };
    expect(grantValidUntil({ ...grant, claim }, 1_000, undefined, ttl10s, context)).toBe(
      Number.NEGATIVE_INFINITY,
    );
  });

  it('a server clock that went back between the attempt and the grant shortens the validity, never lengthens it', () => {
    const claim = { ms: 500, grantedAtUs: attemptAtUs - 300_000 };
    expect(grantValidUntil({ ...grant, claim }, 1_000, attemptAtUs, ttl10s, context)).toBeLessThan(
      1_000 + 500,
    );
  });
});
