export type {
  CommandDeadline,
  LuaScriptSource,
  RedisAdapter,
  RedisSubscriber,
} from './backends/redis/adapter.js';
export type { Lock, ReleaseOutcome, ReleaseResult } from './core/held-lock.js';
export { CHANNELS, WARNING_CODES } from './diagnostics.js';
export {
  InvalidArgumentError,
  isLockError,
  isLockLostError,
  isLockTimeoutError,
  LOCK_ERROR_CODES,
  LockBackendError,
  LockClientClosedError,
  LockError,
  type LockErrorCode,
  LockerClosedError,
  LockKeyConflictError,
  type LockLossReason,
  LockLostError,
  LockNotHeldError,
  LockTimeoutError,
  LockUnsupportedError,
} from './errors.js';
export { type LockedFunction, Locker, type LockState } from './locker.js';
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
