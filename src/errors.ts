/**
 * Every error latchkey throws is a {@link LockError} with a stable string `code`. Match on `code`
 * (or use the `is*` guards); messages may change between versions, codes will not.
 */

/** Every code latchkey uses, for exhaustive `switch` statements. */
export const LOCK_ERROR_CODES = {
  base: 'ERR_LOCK',
  timeout: 'ERR_LOCK_TIMEOUT',
  notHeld: 'ERR_LOCK_NOT_HELD',
  lost: 'ERR_LOCK_LOST',
  invalidArgument: 'ERR_LOCK_INVALID_ARGUMENT',
  backend: 'ERR_LOCK_BACKEND',
  closed: 'ERR_LOCKER_CLOSED',
  keyConflict: 'ERR_LOCK_KEY_CONFLICT',
  unsupported: 'ERR_LOCK_UNSUPPORTED',
  clientClosed: 'ERR_LOCK_CLIENT_CLOSED',
  limitMismatch: 'ERR_LOCK_LIMIT_MISMATCH',
  replication: 'ERR_LOCK_REPLICATION',
  outOfMemory: 'ERR_LOCK_OOM',
} as const;

/** The `code` of a latchkey error: match on it rather than on the class or the message. */
export type LockErrorCode = (typeof LOCK_ERROR_CODES)[keyof typeof LOCK_ERROR_CODES];

/** Base class of every latchkey error. */
export class LockError extends Error {
  override readonly name: string = 'LockError';
  readonly code: LockErrorCode = LOCK_ERROR_CODES.base;
}

/** `acquire` waited `waitMs` (or its attempts ran out) without getting the lock. */
export class LockTimeoutError extends LockError {
  override readonly name = 'LockTimeoutError';
  override readonly code = LOCK_ERROR_CODES.timeout;
  constructor(
    readonly lockName: string,
    readonly waitedMs: number,
    options?: ErrorOptions,
  ) {
    super(`timed out after ${waitedMs} ms waiting for lock "${lockName}"`, options);
  }
}

/**
 * Why a held lock stopped being held. The words match `release()`'s outcomes: `'expired'` when the
 * lock key is gone, `'taken'` when it holds another token.
 */
export type LockLossReason =
  /**
   * The local validity deadline passed without a successful extension (includes Redis gone), or
   * an extension found the key gone: expired, deleted, flushed or evicted.
   */
  | 'expired'
  /** An extension found another token in the key: someone else holds the lock. */
  | 'taken'
  /** Auto-refresh stopped extending because `maxHoldMs` was reached. */
  | 'max-hold'
  /** `locker.close()` ran while the lock was held; it then released the lock. */
  | 'closed';

/** The reason of a handle's `signal` once the lock is known lost. */
export class LockLostError extends LockError {
  override readonly name = 'LockLostError';
  override readonly code = LOCK_ERROR_CODES.lost;
  constructor(
    readonly lockName: string,
    readonly reason: LockLossReason,
    options?: ErrorOptions,
  ) {
    super(`lock "${lockName}" was lost (${reason})`, options);
  }
}

/** `extend` on a lock that is no longer held (lost, expired, or released). */
export class LockNotHeldError extends LockError {
  override readonly name = 'LockNotHeldError';
  override readonly code = LOCK_ERROR_CODES.notHeld;
  constructor(
    readonly lockName: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`lock "${lockName}" is not held: ${detail}`, options);
  }
}

/** A bad argument or option, detected before anything was sent to Redis. */
export class InvalidArgumentError extends LockError {
  override readonly name = 'InvalidArgumentError';
  override readonly code = LOCK_ERROR_CODES.invalidArgument;
  constructor(
    readonly argument: string,
    rule: string,
  ) {
    super(`\`${argument}\` ${rule}`);
  }
}

/** Redis failed, timed out or replied something unexpected; the original error is the `cause`. */
export class LockBackendError extends LockError {
  override readonly name: string = 'LockBackendError';
  override readonly code: LockErrorCode = LOCK_ERROR_CODES.backend;
}

/**
 * Fewer replicas than the locker's `replicas` option acknowledged an acquisition or extension within
 * `replicaTimeoutMs` (Redis `WAIT`): the acquisition was given back, or the extension did not
 * count. It may pass (a replica catching up), so an acquire retries within its `waitMs`.
 */
export class LockReplicationError extends LockBackendError {
  override readonly name = 'LockReplicationError';
  override readonly code = LOCK_ERROR_CODES.replication;
  constructor(
    readonly required: number,
    readonly acknowledged: number,
  ) {
    super(
      `only ${acknowledged} of the ${required} replicas required acknowledged the write in time`,
    );
  }
}

/**
 * Redis refused the write: it is above `maxmemory` and evicts nothing (`OOM command not allowed`).
 * Nothing was taken; it may pass (memory freed), so an acquire retries within its `waitMs`. The
 * Redis error is the `cause`.
 */
export class LockOutOfMemoryError extends LockBackendError {
  override readonly name = 'LockOutOfMemoryError';
  override readonly code = LOCK_ERROR_CODES.outOfMemory;
}

/** The locker was closed; no new operations are accepted and pending waits are ended. */
export class LockerClosedError extends LockError {
  override readonly name = 'LockerClosedError';
  override readonly code = LOCK_ERROR_CODES.closed;
  constructor() {
    super('the locker is closed');
  }
}

/**
 * The lock's Redis key (or one of its companion keys) already holds data that latchkey did not
 * write, for example an application key with the same name or a value of another type. Use a
 * different `prefix` or lock name.
 */
export class LockKeyConflictError extends LockError {
  override readonly name = 'LockKeyConflictError';
  override readonly code = LOCK_ERROR_CODES.keyConflict;
  constructor(
    readonly key: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`key "${key}" holds data latchkey did not write (${detail})`, options);
  }
}

/**
 * The client or server cannot be used safely: a Redis Cluster node reached through a plain client
 * (not the client's cluster mode), or a Redis older than 7.0 (the scripts need `SET … GET`).
 */
export class LockUnsupportedError extends LockError {
  override readonly name = 'LockUnsupportedError';
  override readonly code = LOCK_ERROR_CODES.unsupported;
}

/**
 * The Redis client was closed (quit, disconnected) or never connected, and will not come back by
 * itself: nothing was sent. Connect the client (or make a new one) before using the locker.
 */
export class LockClientClosedError extends LockError {
  override readonly name = 'LockClientClosedError';
  override readonly code = LOCK_ERROR_CODES.clientClosed;
}

/**
 * A semaphore was asked for with another `limit` than the one its current holders or waiters use.
 * The limit belongs to the name while anyone holds or waits for it; change it once it is idle.
 */
export class LockLimitMismatchError extends LockError {
  override readonly name = 'LockLimitMismatchError';
  override readonly code = LOCK_ERROR_CODES.limitMismatch;
  constructor(
    readonly lockName: string,
    readonly limit: number,
    readonly existingLimit: number,
  ) {
    super(
      `semaphore "${lockName}" is in use with limit ${existingLimit}; it was asked for with limit ${limit}`,
    );
  }
}

/** True for any latchkey error: a {@link LockError} or one of its subclasses. */
export function isLockError(value: unknown): value is LockError {
  return value instanceof LockError;
}

/** True for a {@link LockLostError}: a held lock was lost. */
export function isLockLostError(value: unknown): value is LockLostError {
  return value instanceof LockLostError;
}

/** True for a {@link LockTimeoutError}: the wait (or its attempts) ran out without the lock. */
export function isLockTimeoutError(value: unknown): value is LockTimeoutError {
  return value instanceof LockTimeoutError;
}
