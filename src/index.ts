export type {
  CommandDeadline,
  LuaScriptSource,
  RedisAdapter,
  RedisKeyWatcher,
  RedisSubscriber,
} from './backends/redis/adapter.js';
export type { LockKind } from './core/backend.js';
export type { Lock, ReleaseOutcome, ReleaseResult } from './core/held-lock.js';
export type { HeldFunction, Holding } from './core/run-holding.js';
export {
  type AcquireEvent,
  CHANNELS,
  type ExtendEvent,
  type ExtendFailedEvent,
  type ExtendTrigger,
  type HoldEvent,
  type LostEvent,
  type ReleaseEvent,
  WARNING_CODES,
  type WaitContext,
  type WaitOutcome,
  type WarningEvent,
} from './diagnostics.js';
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
  LockLimitMismatchError,
  type LockLossReason,
  LockLostError,
  LockNotHeldError,
  LockOutOfMemoryError,
  LockReplicationError,
  LockTimeoutError,
  LockUnsupportedError,
} from './errors.js';
export {
  type Election,
  type Leader,
  type Leadership,
  MAX_LEADER_VALUE_BYTES,
  type ObserveOptions,
} from './kinds/election.js';
export {
  MAX_MULTI_NAMES,
  type MultiHold,
  type MultiLock,
  type MultiReleaseResult,
} from './kinds/multi.js';
export type {
  LockMode,
  ReadWriteHold,
  ReadWriteHolder,
  ReadWriteLock,
  ReadWriteState,
  WriteHold,
} from './kinds/read-write.js';
export type { ReentrantHold, ReentrantLock, ReentrantState } from './kinds/reentrant.js';
export type {
  Permit,
  Semaphore,
  SemaphoreHolder,
  SemaphoreState,
} from './kinds/semaphore.js';
export {
  type ForceReleaseOptions,
  type ForceReleaseResult,
  type LockedFunction,
  Locker,
  type LockState,
  OBSERVE_POLL_MS,
  type ObserveLockOptions,
} from './locker.js';
export {
  type AcquireOptions,
  DEFAULTS,
  type LockerOptions,
  type LockOptions,
  MAX_DURATION_MS,
  MAX_NAME_BYTES,
  MAX_SEMAPHORE_LIMIT,
  MIN_TTL_MS,
  type PermitOptions,
  type ReentrantOptions,
  type SemaphoreOptions,
} from './options.js';
export {
  exponentialBackoff,
  fixedDelay,
  linearBackoff,
  maxAttempts,
  noRetry,
  type RetryStrategy,
} from './retry.js';
