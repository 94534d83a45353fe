export type { LuaScriptSource, RedisAdapter, RedisSubscriber } from './adapter.js';
export { CHANNELS } from './diagnostics.js';
export {
  InvalidArgumentError,
  isLockError,
  isLockLostError,
  isLockTimeoutError,
  LOCK_ERROR_CODES,
  LockBackendError,
  LockError,
  type LockErrorCode,
  LockerClosedError,
  LockKeyConflictError,
  type LockLossReason,
  LockLostError,
  LockNotHeldError,
  LockTimeoutError,
} from './errors.js';
export { type LockedFunction, Locker, type LockState } from './locker.js';
export type { Lock, ReleaseOutcome, ReleaseResult } from './locks/lock-handle.js';
export {
  type AcquireOptions,
  DEFAULTS,
  type LockerOptions,
  type LockOptions,
  MAX_DURATION_MS,
  MAX_NAME_BYTES,
  MIN_TTL_MS,
} from './options.js';
export {
  exponentialBackoff,
  fixedDelay,
  linearBackoff,
  maxAttempts,
  noRetry,
  type RetryStrategy,
} from './retry.js';
