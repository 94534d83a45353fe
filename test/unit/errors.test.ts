/**
 * The shape of every latchkey error, table-first: one row per class says how to build it and what
 * a caller matching on it may rely on (literal `name`, stable `code`, message, extra fields).
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import {
  InvalidArgumentError,
  isLockError,
  isLockLostError,
  isLockTimeoutError,
  LOCK_ERROR_CODES,
  LockBackendError,
  LockClientClosedError,
  LockError,
  LockerClosedError,
  LockKeyConflictError,
  LockLimitMismatchError,
  LockLostError,
  LockNotHeldError,
  LockOutOfMemoryError,
  LockReplicationError,
  LockTimeoutError,
  LockUnsupportedError,
} from '../../src/errors.js';

interface Row {
  readonly type: abstract new (...args: never[]) => LockError;
  /** Builds an instance; given a cause when the class accepts ErrorOptions. */
  readonly make: (options?: ErrorOptions) => LockError;
  readonly acceptsCause: boolean;
  readonly name: string;
  readonly code: string;
  readonly message: string;
  /** Own fields the constructor stores, by name. */
  readonly fields: Readonly<Record<string, unknown>>;
}

const rows: readonly Row[] = [
  {
    type: LockError,
    make: (options) => new LockError('something failed', options),
    acceptsCause: true,
    name: 'LockError',
    code: 'ERR_LOCK',
    message: 'something failed',
    fields: {},
  },
  {
    type: LockTimeoutError,
    make: (options) => new LockTimeoutError('jobs', 250, options),
    acceptsCause: true,
    name: 'LockTimeoutError',
    code: 'ERR_LOCK_TIMEOUT',
    message: 'timed out after 250 ms waiting for lock "jobs"',
    fields: { lockName: 'jobs', waitedMs: 250 },
  },
  {
    type: LockLostError,
    make: (options) => new LockLostError('jobs', 'max-hold', options),
    acceptsCause: true,
    name: 'LockLostError',
    code: 'ERR_LOCK_LOST',
    message: 'lock "jobs" was lost (max-hold)',
    fields: { lockName: 'jobs', reason: 'max-hold' },
  },
  {
    type: LockNotHeldError,
    make: (options) => new LockNotHeldError('jobs', 'it was released', options),
    acceptsCause: true,
    name: 'LockNotHeldError',
    code: 'ERR_LOCK_NOT_HELD',
    message: 'lock "jobs" is not held: it was released',
    fields: { lockName: 'jobs' },
  },
  {
    type: InvalidArgumentError,
    make: () => new InvalidArgumentError('ttlMs', 'must be an integer'),
    acceptsCause: false,
    name: 'InvalidArgumentError',
    code: 'ERR_LOCK_INVALID_ARGUMENT',
    message: '`ttlMs` must be an integer',
    fields: { argument: 'ttlMs' },
  },
  {
    type: LockBackendError,
    make: (options) => new LockBackendError('EVALSHA failed', options),
    acceptsCause: true,
    name: 'LockBackendError',
    code: 'ERR_LOCK_BACKEND',
    message: 'EVALSHA failed',
    fields: {},
  },
  {
    type: LockerClosedError,
    make: () => new LockerClosedError(),
    acceptsCause: false,
    name: 'LockerClosedError',
    code: 'ERR_LOCKER_CLOSED',
    message: 'the locker is closed',
    fields: {},
  },
  {
    type: LockKeyConflictError,
    make: (options) => new LockKeyConflictError('latchkey:{jobs}', 'a string', options),
    acceptsCause: true,
    name: 'LockKeyConflictError',
    code: 'ERR_LOCK_KEY_CONFLICT',
    message: 'key "latchkey:{jobs}" holds data latchkey did not write (a string)',
    fields: { key: 'latchkey:{jobs}' },
  },
  {
    type: LockUnsupportedError,
    make: (options) => new LockUnsupportedError('Redis 6.2.14 is older than 7.0', options),
    acceptsCause: true,
    name: 'LockUnsupportedError',
    code: 'ERR_LOCK_UNSUPPORTED',
    message: 'Redis 6.2.14 is older than 7.0',
    fields: {},
  },
  {
    type: LockClientClosedError,
    make: (options) => new LockClientClosedError('the client is closed', options),
    acceptsCause: true,
    name: 'LockClientClosedError',
    code: 'ERR_LOCK_CLIENT_CLOSED',
    message: 'the client is closed',
    fields: {},
  },
  {
    type: LockLimitMismatchError,
    make: () => new LockLimitMismatchError('pool', 3, 4),
    acceptsCause: false,
    name: 'LockLimitMismatchError',
    code: 'ERR_LOCK_LIMIT_MISMATCH',
    message: 'semaphore "pool" is in use with limit 4; it was asked for with limit 3',
    fields: { lockName: 'pool', limit: 3, existingLimit: 4 },
  },
  {
    type: LockOutOfMemoryError,
    make: (options) =>
      new LockOutOfMemoryError('mutex-acquire failed: OOM command not allowed', options),
    acceptsCause: true,
    name: 'LockOutOfMemoryError',
    code: 'ERR_LOCK_OOM',
    message: 'mutex-acquire failed: OOM command not allowed',
    fields: {},
  },
  {
    type: LockReplicationError,
    make: () => new LockReplicationError(2, 1),
    acceptsCause: false,
    name: 'LockReplicationError',
    code: 'ERR_LOCK_REPLICATION',
    message: 'only 1 of the 2 replicas required acknowledged the write in time',
    fields: { required: 2, acknowledged: 1 },
  },
];

describe('errors › table', () => {
  it('has one row for every error class src/errors.ts exports', () => {
    const exported = Object.values(errors).filter(
      (value): value is typeof LockError =>
        typeof value === 'function' &&
        (value === LockError || value.prototype instanceof LockError),
    );
    expect(exported.length).toBeGreaterThan(1);
    expect(new Set(rows.map((row) => row.type))).toEqual(new Set(exported));
    expect(rows).toHaveLength(exported.length);
  });

  it('uses every code of LOCK_ERROR_CODES in exactly one class, the base included', () => {
    const codes = rows.map((row) => row.make().code);
    expect([...codes].sort()).toEqual(Object.values(LOCK_ERROR_CODES).sort());
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe.each(rows)('$name', (row) => {
  it('is a LockError and an Error', () => {
    const error = row.make();
    expect(error).toBeInstanceOf(row.type);
    expect(error).toBeInstanceOf(LockError);
    expect(error).toBeInstanceOf(Error);
  });

  it('has a literal name, a stable code and its message', () => {
    const error = row.make();
    expect(error.name).toBe(row.name);
    expect(Object.hasOwn(error, 'name')).toBe(true);
    expect(error.code).toBe(row.code);
    expect(error.message).toBe(row.message);
    expect(String(error)).toBe(`${row.name}: ${row.message}`);
    expect(error.stack?.startsWith(`${row.name}: ${row.message}`)).toBe(true);
  });

  it('keeps the fields it was built with', () => {
    const error = row.make() as unknown as Record<string, unknown>;
    for (const [field, value] of Object.entries(row.fields)) expect(error[field]).toBe(value);
  });

  it(row.acceptsCause ? 'passes `cause` through' : 'has no `cause`', () => {
    const cause = new Error('ECONNRESET');
    expect(row.make({ cause }).cause).toBe(row.acceptsCause ? cause : undefined);
    expect(Object.hasOwn(row.make(), 'cause')).toBe(false);
  });

  it('is recognised by exactly the guards that cover it', () => {
    const error = row.make();
    expect(isLockError(error)).toBe(true);
    expect(isLockLostError(error)).toBe(row.type === LockLostError);
    expect(isLockTimeoutError(error)).toBe(row.type === LockTimeoutError);
  });
});

describe('errors › guards', () => {
  const strangers: readonly [string, unknown][] = [
    ['a plain Error', new Error('ERR_LOCK')],
    ['a RangeError', new RangeError('x')],
    ['a look-alike object', { name: 'LockLostError', code: 'ERR_LOCK_LOST', message: 'x' }],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'ERR_LOCK_TIMEOUT'],
  ];

  it.each(strangers)('reject %s', (_label, value) => {
    expect(isLockError(value)).toBe(false);
    expect(isLockLostError(value)).toBe(false);
    expect(isLockTimeoutError(value)).toBe(false);
  });

  it('keep every LockLostError reason readable', () => {
    for (const reason of ['expired', 'taken', 'max-hold'] as const) {
      const error = new LockLostError('n', reason);
      expect(error.reason).toBe(reason);
      expect(error.message).toContain(`(${reason})`);
    }
  });
});
