/**
 * Option resolution and the bad-input table (safety.md §6.5, G9): every misconfiguration is
 * rejected synchronously, before anything reaches Redis, with an InvalidArgumentError naming it.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LOCK_ERROR_CODES } from '../../src/errors.js';
import {
  checkName,
  checkSignal,
  DEFAULTS,
  MAX_DURATION_MS,
  MAX_NAME_BYTES,
  MAX_PREFIX_BYTES,
  MIN_TTL_MS,
  resolveForceReleaseToken,
  resolveLockerOptions,
  resolveLockOptions,
  resolveObserveSignal,
} from '../../src/options.js';
import { fixedDelay } from '../../src/retry.js';

/** Runs `call`, asserts it threw an InvalidArgumentError for `argument`, and returns it. */
function invalidArgument(call: () => unknown, argument: string): InvalidArgumentError {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidArgumentError);
  const error = thrown as InvalidArgumentError;
  expect(error.code).toBe(LOCK_ERROR_CODES.invalidArgument);
  expect(error.code).toBe('ERR_LOCK_INVALID_ARGUMENT');
  expect(error.argument).toBe(argument);
  expect(error.message.startsWith(`\`${argument}\` `)).toBe(true);
  return error;
}

const defaultLocker = resolveLockerOptions(undefined);

/** Lock options, wrong on their own or in combination; they are checked for lockers and calls. */
const badLockOptions: readonly [
  label: string,
  options: Record<string, unknown>,
  argument: string,
][] = [
  ['ttlMs float', { ttlMs: 1500.5 }, 'ttlMs'],
  ['ttlMs NaN', { ttlMs: Number.NaN }, 'ttlMs'],
  ['ttlMs Infinity', { ttlMs: Number.POSITIVE_INFINITY }, 'ttlMs'],
  ['ttlMs string', { ttlMs: '10000' }, 'ttlMs'],
  ['ttlMs bigint', { ttlMs: 10_000n }, 'ttlMs'],
  ['ttlMs negative', { ttlMs: -1 }, 'ttlMs'],
  ['ttlMs 0', { ttlMs: 0 }, 'ttlMs'],
  ['ttlMs below MIN_TTL_MS', { ttlMs: MIN_TTL_MS - 1 }, 'ttlMs'],
  ['ttlMs above MAX_DURATION_MS', { ttlMs: MAX_DURATION_MS + 1 }, 'ttlMs'],
  ['ttlMs unsafe integer', { ttlMs: 2 ** 53 }, 'ttlMs'],
  ['waitMs negative', { waitMs: -1 }, 'waitMs'],
  ['waitMs NaN', { waitMs: Number.NaN }, 'waitMs'],
  ['waitMs float', { waitMs: 1.5 }, 'waitMs'],
  ['waitMs string', { waitMs: '10' }, 'waitMs'],
  ['waitMs -Infinity', { waitMs: Number.NEGATIVE_INFINITY }, 'waitMs'],
  ['waitMs above MAX_DURATION_MS', { waitMs: MAX_DURATION_MS + 1 }, 'waitMs'],
  ['refreshMs equal to ttlMs', { ttlMs: 1000, refreshMs: 1000 }, 'refreshMs'],
  ['refreshMs above ttlMs', { ttlMs: 1000, refreshMs: 5000 }, 'refreshMs'],
  ['refreshMs 0', { refreshMs: 0 }, 'refreshMs'],
  ['refreshMs float', { refreshMs: 100.5 }, 'refreshMs'],
  ['refreshMs NaN', { refreshMs: Number.NaN }, 'refreshMs'],
  ['maxHoldMs below ttlMs', { ttlMs: 1000, maxHoldMs: 999 }, 'maxHoldMs'],
  ['maxHoldMs 0', { maxHoldMs: 0 }, 'maxHoldMs'],
  ['maxHoldMs NaN', { maxHoldMs: Number.NaN }, 'maxHoldMs'],
  ['maxHoldMs -Infinity', { maxHoldMs: Number.NEGATIVE_INFINITY }, 'maxHoldMs'],
  ['autoRefresh string', { autoRefresh: 'yes' }, 'autoRefresh'],
  ['autoRefresh number', { autoRefresh: 1 }, 'autoRefresh'],
  ['retry a number', { retry: 3 }, 'retry'],
  ['retry a look-alike object', { retry: { kind: 'linear', delayAfter: () => 10 } }, 'retry'],
  ['retry a factory, not called', { retry: fixedDelay }, 'retry'],
];

describe('resolveLockerOptions › rejects', () => {
  it.each(badLockOptions)('%s as a locker default', (_label, options, argument) => {
    invalidArgument(() => resolveLockerOptions(options), argument);
  });

  const badLockerOnly: readonly [label: string, options: unknown, argument: string][] = [
    ['commandTimeoutMs 0', { commandTimeoutMs: 0 }, 'commandTimeoutMs'],
    ['commandTimeoutMs float', { commandTimeoutMs: 1.5 }, 'commandTimeoutMs'],
    [
      'commandTimeoutMs Infinity',
      { commandTimeoutMs: Number.POSITIVE_INFINITY },
      'commandTimeoutMs',
    ],
    // A removed option is rejected like any unknown one, not silently ignored.
    ['handoffMs (no longer an option)', { handoffMs: 1000 }, 'options.handoffMs'],
    ['driftFactor -0.1', { driftFactor: -0.1 }, 'driftFactor'],
    ['driftFactor 0.5', { driftFactor: 0.5 }, 'driftFactor'],
    ['driftFactor 1', { driftFactor: 1 }, 'driftFactor'],
    ['driftFactor NaN', { driftFactor: Number.NaN }, 'driftFactor'],
    ['driftFactor string', { driftFactor: '0.01' }, 'driftFactor'],
    ['prefix a number', { prefix: 42 }, 'prefix'],
    ['prefix too long', { prefix: 'p'.repeat(MAX_PREFIX_BYTES + 1) }, 'prefix'],
    ['prefix too long in UTF-8 bytes', { prefix: '€'.repeat(86) }, 'prefix'],
    ['unknown option ttl', { ttl: 1000 }, 'options.ttl'],
    ['unknown option timeout', { timeout: 1000 }, 'options.timeout'],
    ['a call-only option (signal)', { signal: new AbortController().signal }, 'options.signal'],
    ['options null', null, 'options'],
    ['options a number', 5, 'options'],
    ['options a string', 'ttlMs=100', 'options'],
    ['options an array', [], 'options'],
  ];

  it.each(badLockerOnly)('%s', (_label, options, argument) => {
    invalidArgument(() => resolveLockerOptions(options), argument);
  });

  it('names the unknown option and lists the known ones', () => {
    const error = invalidArgument(() => resolveLockerOptions({ timeout: 5 }), 'options.timeout');
    expect(error.message).toContain('is not an option');
    expect(error.message).toContain('waitMs');
    expect(error.message).toContain('commandTimeoutMs');
  });

  it('says which value it got', () => {
    expect(invalidArgument(() => resolveLockerOptions({ ttlMs: '10' }), 'ttlMs').message).toContain(
      '(got "10")',
    );
    expect(invalidArgument(() => resolveLockerOptions({ ttlMs: 10n }), 'ttlMs').message).toContain(
      '(got 10n)',
    );
  });
});

describe('resolveLockOptions › rejects', () => {
  it.each(badLockOptions)('%s as a call option', (_label, options, argument) => {
    invalidArgument(() => resolveLockOptions(defaultLocker, options), argument);
  });

  const badCallOnly: readonly [label: string, options: unknown, argument: string][] = [
    ['unknown option ttl', { ttl: 1000 }, 'options.ttl'],
    ['unknown option timeout', { timeout: 1000 }, 'options.timeout'],
    ['a locker-only option (prefix)', { prefix: 'x:' }, 'options.prefix'],
    ['a locker-only option (driftFactor)', { driftFactor: 0.1 }, 'options.driftFactor'],
    ['options null', null, 'options'],
    ['options a number', 1000, 'options'],
    ['options an array', [{ ttlMs: 1000 }], 'options'],
  ];

  it.each(badCallOnly)('%s', (_label, options, argument) => {
    invalidArgument(() => resolveLockOptions(defaultLocker, options), argument);
  });

  it('checks a call ttlMs against the locker refreshMs it inherits', () => {
    const locker = resolveLockerOptions({ ttlMs: 5000, refreshMs: 1000 });
    invalidArgument(() => resolveLockOptions(locker, { ttlMs: 900 }), 'refreshMs');
  });

  it('checks a call ttlMs against the locker maxHoldMs it inherits', () => {
    const locker = resolveLockerOptions({ ttlMs: 1000, maxHoldMs: 2000 });
    invalidArgument(() => resolveLockOptions(locker, { ttlMs: 3000 }), 'maxHoldMs');
  });

  it('honours a narrower list of known options', () => {
    invalidArgument(
      () => resolveLockOptions(defaultLocker, { signal: undefined }, ['ttlMs']),
      'options.signal',
    );
  });
});

describe('resolveLockerOptions › accepts', () => {
  it('applies DEFAULTS when given nothing', () => {
    for (const input of [undefined, {}]) {
      const locker = resolveLockerOptions(input);
      expect(locker).toEqual({
        prefix: DEFAULTS.prefix,
        commandTimeoutMs: DEFAULTS.commandTimeoutMs,
        driftFactor: DEFAULTS.driftFactor,
        replicas: 0,
        replicaTimeoutMs: DEFAULTS.replicaTimeoutMs,
        lock: {},
      });
    }
  });

  it('documents the defaults the README promises', () => {
    expect(DEFAULTS).toMatchObject({
      prefix: 'latchkey:',
      ttlMs: 10_000,
      waitMs: 10_000,
      autoRefresh: true,
      maxHoldMs: Number.POSITIVE_INFINITY,
      commandTimeoutMs: 2_000,
      driftFactor: 0.01,
    });
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });

  it('keeps the lock defaults it was given and drops locker settings from them', () => {
    const retry = fixedDelay(10);
    const locker = resolveLockerOptions({
      prefix: 'app:',
      ttlMs: 3000,
      waitMs: 0,
      retry,
      driftFactor: 0,
      commandTimeoutMs: 1,
      autoRefresh: undefined,
    });
    expect(locker.prefix).toBe('app:');
    expect(locker.driftFactor).toBe(0);
    expect(locker.commandTimeoutMs).toBe(1);
    expect(locker.lock).toEqual({ ttlMs: 3000, waitMs: 0, retry });
  });

  it.each([
    ['an empty prefix', ''],
    [`a prefix of exactly ${MAX_PREFIX_BYTES} bytes`, 'p'.repeat(MAX_PREFIX_BYTES)],
    ['a multi-byte prefix of 255 bytes', '€'.repeat(85)],
  ])('%s', (_label, prefix) => {
    expect(resolveLockerOptions({ prefix }).prefix).toBe(prefix);
  });

  it.each([0, 0.25, 0.499])('driftFactor %s', (driftFactor) => {
    expect(resolveLockerOptions({ driftFactor }).driftFactor).toBe(driftFactor);
  });
});

describe('resolveLockOptions › accepts', () => {
  it('resolves the defaults', () => {
    for (const input of [undefined, {}]) {
      expect(resolveLockOptions(defaultLocker, input)).toEqual({
        ttlMs: 10_000,
        waitMs: 10_000,
        autoRefresh: true,
        refreshMs: 3333,
        maxHoldMs: Number.POSITIVE_INFINITY,
        retry: undefined,
        driftMs: 102,
      });
    }
  });

  it.each([
    [MIN_TTL_MS, 33],
    [1000, 333],
    [3001, 1000],
    [10_000, 3333],
    [MAX_DURATION_MS, 715_827_882],
  ])('derives refreshMs = floor(ttlMs / 3): ttlMs %i → %i', (ttlMs, refreshMs) => {
    expect(resolveLockOptions(defaultLocker, { ttlMs }).refreshMs).toBe(refreshMs);
  });

  it.each([
    [0.01, 10_000, 102],
    [0.01, 150, 3],
    [0.01, MIN_TTL_MS, 3],
    [0, 10_000, 2],
    [0.1, 1234, 125],
    [0.499, MIN_TTL_MS, 51],
  ])('derives driftMs = floor(ttlMs × %s) + 2: ttlMs %i → %i', (driftFactor, ttlMs, driftMs) => {
    const locker = resolveLockerOptions({ driftFactor });
    expect(resolveLockOptions(locker, { ttlMs }).driftMs).toBe(driftMs);
  });

  it('lets call options override locker options, one by one', () => {
    const lockerRetry = fixedDelay(10);
    const callRetry = fixedDelay(20);
    const locker = resolveLockerOptions({
      ttlMs: 5000,
      waitMs: 100,
      autoRefresh: false,
      maxHoldMs: 60_000,
      retry: lockerRetry,
    });
    expect(resolveLockOptions(locker, {})).toMatchObject({
      ttlMs: 5000,
      waitMs: 100,
      autoRefresh: false,
      refreshMs: 1666,
      maxHoldMs: 60_000,
      retry: lockerRetry,
    });
    expect(
      resolveLockOptions(locker, {
        ttlMs: 2000,
        autoRefresh: true,
        retry: callRetry,
        signal: new AbortController().signal,
      }),
    ).toMatchObject({
      ttlMs: 2000,
      waitMs: 100,
      autoRefresh: true,
      refreshMs: 666,
      maxHoldMs: 60_000,
      retry: callRetry,
    });
  });

  it('treats an undefined call option as not given', () => {
    const locker = resolveLockerOptions({ ttlMs: 4000, waitMs: 50 });
    expect(resolveLockOptions(locker, { ttlMs: undefined, waitMs: undefined })).toMatchObject({
      ttlMs: 4000,
      waitMs: 50,
    });
  });

  it('accepts Infinity for waitMs and maxHoldMs', () => {
    const resolved = resolveLockOptions(defaultLocker, {
      waitMs: Number.POSITIVE_INFINITY,
      maxHoldMs: Number.POSITIVE_INFINITY,
    });
    expect(resolved.waitMs).toBe(Number.POSITIVE_INFINITY);
    expect(resolved.maxHoldMs).toBe(Number.POSITIVE_INFINITY);
    const locker = resolveLockerOptions({ waitMs: Number.POSITIVE_INFINITY });
    expect(resolveLockOptions(locker, undefined).waitMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('accepts the edges of every range', () => {
    expect(
      resolveLockOptions(defaultLocker, {
        ttlMs: MAX_DURATION_MS,
        waitMs: 0,
        refreshMs: MAX_DURATION_MS - 1,
        maxHoldMs: MAX_DURATION_MS,
      }),
    ).toMatchObject({
      ttlMs: MAX_DURATION_MS,
      waitMs: 0,
      refreshMs: MAX_DURATION_MS - 1,
      maxHoldMs: MAX_DURATION_MS,
    });
    expect(
      resolveLockOptions(defaultLocker, { ttlMs: MIN_TTL_MS, refreshMs: 1, maxHoldMs: MIN_TTL_MS }),
    ).toMatchObject({ ttlMs: MIN_TTL_MS, refreshMs: 1, maxHoldMs: MIN_TTL_MS });
  });
});

describe('checkName', () => {
  const badNames: readonly [label: string, name: unknown][] = [
    ['empty', ''],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an object', { name: 'jobs' }],
    ['a String object', new String('jobs')],
    ['a lone high surrogate', '\uD800'],
    ['a lone low surrogate inside text', 'a\uDC00b'],
    ['a swapped surrogate pair', '\uDE00\uD83D'],
    [`${MAX_NAME_BYTES + 1} ASCII bytes`, 'n'.repeat(MAX_NAME_BYTES + 1)],
    ['342 × € (1026 UTF-8 bytes, 342 UTF-16 units)', '€'.repeat(342)],
    ['257 × 😀 (1028 UTF-8 bytes, 514 UTF-16 units)', '😀'.repeat(257)],
  ];

  it.each(badNames)('rejects %s', (_label, name) => {
    invalidArgument(() => checkName(name), 'name');
  });

  const goodNames: readonly [label: string, name: string][] = [
    ['one character', 'a'],
    ['a name with braces and colons', '{orders}:42:}{'],
    ['a well-formed surrogate pair', '😀'],
    [`exactly ${MAX_NAME_BYTES} ASCII bytes`, 'n'.repeat(MAX_NAME_BYTES)],
    ['341 × € plus one ASCII byte (exactly 1024 bytes)', `${'€'.repeat(341)}x`],
    ['256 × 😀 (exactly 1024 bytes)', '😀'.repeat(256)],
    ['whitespace only', ' '],
  ];

  it.each(goodNames)('accepts %s', (_label, name) => {
    expect(Buffer.byteLength(name, 'utf8')).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(checkName(name)).toBe(name);
  });

  it('counts the limit in UTF-8 bytes, not UTF-16 units', () => {
    expect(Buffer.byteLength('€'.repeat(342), 'utf8')).toBe(1026);
    expect('€'.repeat(342).length).toBeLessThan(MAX_NAME_BYTES);
    invalidArgument(() => checkName('€'.repeat(342)), 'name');
  });
});

describe('checkSignal', () => {
  it.each([
    ['an object', {}],
    ['a string', 'abort'],
    ['null', null],
    ['an AbortController', new AbortController()],
    ['a look-alike', { aborted: false, reason: undefined, throwIfAborted() {} }],
  ])('rejects %s', (_label, signal) => {
    invalidArgument(() => checkSignal(signal), 'signal');
  });

  it('returns undefined for no signal and a live signal as it is', () => {
    expect(checkSignal(undefined)).toBeUndefined();
    const { signal } = new AbortController();
    expect(checkSignal(signal)).toBe(signal);
  });

  it('throws the reason of an already aborted signal', () => {
    const reason = new Error('shutting down');
    let thrown: unknown;
    try {
      checkSignal(AbortSignal.abort(reason));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(reason);
  });

  it('throws the default AbortError of a signal aborted without a reason', () => {
    expect(() => checkSignal(AbortSignal.abort())).toThrow(
      expect.objectContaining({ name: 'AbortError' }),
    );
  });

  it('throws a non-Error reason unchanged', () => {
    let thrown: unknown;
    try {
      checkSignal(AbortSignal.abort('bye'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe('bye');
  });
});

describe('observe and forceRelease options', () => {
  it.each([
    ['null', null, 'options'],
    ['an array', [], 'options'],
    ['a string', 'signal', 'options'],
    ['an unknown option', { signl: new AbortController().signal }, 'options.signl'],
    ['a signal that is not an AbortSignal', { signal: {} }, 'signal'],
  ])('observe rejects %s', (_label, options, argument) => {
    invalidArgument(() => resolveObserveSignal(options), argument);
  });

  it('observe accepts nothing, an empty object and a signal', () => {
    const { signal } = new AbortController();
    expect(resolveObserveSignal(undefined)).toBeUndefined();
    expect(resolveObserveSignal({})).toBeUndefined();
    expect(resolveObserveSignal({ signal })).toBe(signal);
  });

  it.each([
    ['null', null, 'options'],
    ['an array', ['token'], 'options'],
    ['an unknown option', { tokn: 'abc' }, 'options.tokn'],
    ['an empty token', { token: '' }, 'token'],
    ['a token that is not a string', { token: 42 }, 'token'],
  ])('forceRelease rejects %s', (_label, options, argument) => {
    invalidArgument(() => resolveForceReleaseToken(options), argument);
  });

  it('forceRelease accepts nothing and a token', () => {
    expect(resolveForceReleaseToken(undefined)).toBeUndefined();
    expect(resolveForceReleaseToken({ token: 'abc' })).toBe('abc');
  });
});
