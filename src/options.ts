/**
 * Every option latchkey takes, its unit, its default, and the rules it must follow. Durations are
 * integer milliseconds. Options are resolved and validated once, before anything reaches Redis;
 * a bad value throws {@link InvalidArgumentError} naming the option.
 */
import { InvalidArgumentError } from './errors.js';
import { isRetryStrategy, type RetryStrategy } from './retry.js';

/** Smallest accepted `ttlMs`: below it, drift and one round trip eat most of the validity. */
export const MIN_TTL_MS = 100;
/** Largest accepted duration: the longest delay a Node.js timer can represent (about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;
/** Longest accepted lock name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
/** Largest accepted semaphore `limit`. */
export const MAX_SEMAPHORE_LIMIT = 2 ** 31 - 1;
/** Longest accepted key prefix, in UTF-8 bytes. */
export const MAX_PREFIX_BYTES = 256;

/** Options of a lock: given to a locker as defaults, or to one `acquire` call. */
export interface LockOptions {
  /**
   * How long the lock lives in Redis unless extended, in ms. Integer, ≥ {@link MIN_TTL_MS}.
   * @default 10_000
   */
  ttlMs?: number;
  /**
   * How long `acquire` waits for a held lock, in ms, before rejecting with `LockTimeoutError`.
   * Integer ≥ 0, or `Infinity` to wait until `signal` aborts. `tryAcquire` always uses 0.
   * @default 10_000
   */
  waitMs?: number;
  /**
   * Keep the lock alive while it is held by extending it every `refreshMs` (the watchdog).
   * @default true
   */
  autoRefresh?: boolean;
  /**
   * Interval of the auto-refresh, in ms. Integer, ≥ 1 and below `ttlMs`.
   * @default Math.floor(ttlMs / 3)
   */
  refreshMs?: number;
  /**
   * Longest total hold time, in ms; auto-refresh stops extending beyond it and the lock's `signal`
   * aborts with `LockLostError` (reason `'max-hold'`) when its validity ends (later, if a manual
   * `extend` pushed the expiry past it: extensions never shorten). Integer ≥ `ttlMs`, or
   * `Infinity` for no cap.
   * @default Infinity
   */
  maxHoldMs?: number;
  /**
   * Spin with this schedule instead of waiting for a push wake-up. See `linearBackoff`,
   * `exponentialBackoff`, `maxAttempts`, `noRetry`. Attempts stop at `waitMs` either way.
   * @default undefined (wait for the release, without polling)
   */
  retry?: RetryStrategy | undefined;
}

/** Options of one `acquire` call. */
export interface AcquireOptions extends LockOptions {
  /**
   * Ends the wait early: `acquire` rejects with `signal.reason`, also when the lock arrived in the
   * same moment (it is given back). Not used after `acquire` resolved.
   */
  signal?: AbortSignal | undefined;
}

/** Options of a counting semaphore, given when it is made: `locker.semaphore(name, { limit })`. */
export interface SemaphoreOptions {
  /**
   * How many permits the name has. Integer in [1, {@link MAX_SEMAPHORE_LIMIT}]. Belongs to the
   * name while anyone holds or waits: asking with another limit then throws
   * `LockLimitMismatchError`. No default.
   */
  limit: number;
}

/** Options of one semaphore `acquire` call. */
export interface PermitOptions extends AcquireOptions {
  /**
   * How many permits to take at once, all or none. Integer in [1, limit].
   * @default 1
   */
  permits?: number;
}

/** Options of one reentrant lock `acquire` call. */
export interface ReentrantOptions extends AcquireOptions {
  /**
   * Who acquires, across processes: acquisitions with the same owner (a job id, say) share the
   * lock, each counted, until the last is released. Without it the owner is the async context:
   * acquisitions nested inside a `withLock` of the same lock share it, without a Redis call.
   * A non-empty string of at most 1024 bytes of UTF-8.
   * @default undefined (the async context)
   */
  owner?: string | undefined;
}

/** Options of a locker: defaults for its locks, plus settings of the locker itself. */
export interface LockerOptions extends LockOptions {
  /**
   * Prepended to every Redis key latchkey writes, so locks never collide with application data.
   * A client-level key prefix (ioredis `keyPrefix`) is applied on top of it.
   * @default 'latchkey:'
   */
  prefix?: string;
  /**
   * Longest time one Redis command may take, in ms, before it counts as failed. An acquire whose
   * reply did not arrive in time is cleaned up with a compare-and-delete. Integer ≥ 1.
   * @default 2_000
   */
  commandTimeoutMs?: number;
  /**
   * Share of the ttl (plus 2 ms) taken off the validity for clock-rate differences between client
   * and server: validity = ttlMs − elapsed − (floor(ttlMs × driftFactor) + 2). In [0, 0.5).
   * @default 0.01
   */
  driftFactor?: number;
  /**
   * How many replicas must have each acquisition and extension before it counts (Redis `WAIT`,
   * sent right behind the script on the same connection). A shortfall within `replicaTimeoutMs`
   * means not acquired (the lock is given back and the attempt retried within `waitMs`) or, for an
   * extension, a failed extension (the lock keeps the validity it had). Closes the window in which
   * a failover to a replica that lacks the write gives a second client the lock; a failover while
   * the `WAIT` runs can still lose it. A lock granted by a release is then taken by an attempt of
   * its own rather than from the message (one round trip more). Integer ≥ 0; 0 turns it off.
   * @default 0
   */
  replicas?: number;
  /**
   * How long each `WAIT` may wait for the replicas, in ms. Integer ≥ 1, below `commandTimeoutMs`.
   * @default 200
   */
  replicaTimeoutMs?: number;
}

/**
 * The default of every option, frozen: what `new Locker(adapter)` uses when given no options. The
 * option types ({@link LockerOptions}, {@link AcquireOptions}) say what each one means.
 */
export const DEFAULTS = Object.freeze({
  prefix: 'latchkey:',
  ttlMs: 10_000,
  waitMs: 10_000,
  autoRefresh: true,
  maxHoldMs: Number.POSITIVE_INFINITY,
  commandTimeoutMs: 2_000,
  driftFactor: 0.01,
  replicas: 0,
  replicaTimeoutMs: 200,
  /** `refreshMs` defaults to this share of `ttlMs`. */
  refreshShare: 1 / 3,
});

export interface ResolvedLockerOptions {
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly driftFactor: number;
  readonly replicas: number;
  readonly replicaTimeoutMs: number;
  /** Lock defaults, not yet combined with a call's options. */
  readonly lock: Readonly<LockOptions>;
}

export interface ResolvedLockOptions {
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly autoRefresh: boolean;
  readonly refreshMs: number;
  readonly maxHoldMs: number;
  readonly retry: RetryStrategy | undefined;
  readonly driftMs: number;
}

const LOCK_OPTION_NAMES = ['ttlMs', 'waitMs', 'autoRefresh', 'refreshMs', 'maxHoldMs', 'retry'];
const ACQUIRE_OPTION_NAMES = [...LOCK_OPTION_NAMES, 'signal'];
/** What a semaphore's acquire takes: an acquire's options and `permits`. */
export const PERMIT_OPTION_NAMES = [...ACQUIRE_OPTION_NAMES, 'permits'];
/** What a reentrant lock's acquire takes: an acquire's options and `owner`. */
export const REENTRANT_OPTION_NAMES = [...ACQUIRE_OPTION_NAMES, 'owner'];
const LOCKER_OPTION_NAMES = [
  ...LOCK_OPTION_NAMES,
  'prefix',
  'commandTimeoutMs',
  'driftFactor',
  'replicas',
  'replicaTimeoutMs',
];
/** Largest accepted `replicas`. */
export const MAX_REPLICAS = 1_000;

function rejectUnknown(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        `${where}.${key}`,
        `is not an option (known options: ${known.join(', ')})`,
      );
    }
  }
}

function requireOptionsObject(where: string, value: unknown): object {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(where, 'must be an object');
  }
  return value;
}

/** An integer number of ms in [min, MAX_DURATION_MS], or Infinity when allowed. */
function duration(
  argument: string,
  value: unknown,
  { min, allowInfinity = false }: { min: number; allowInfinity?: boolean },
): number {
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return value;
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < min ||
    value > MAX_DURATION_MS
  ) {
    const range = `between ${min} and ${MAX_DURATION_MS}${allowInfinity ? ', or Infinity' : ''}`;
    throw new InvalidArgumentError(
      argument,
      `must be an integer number of milliseconds ${range} (got ${describe(value)})`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function resolveLockerOptions(input: unknown): ResolvedLockerOptions {
  const options = requireOptionsObject('options', input) as LockerOptions;
  rejectUnknown('options', options, LOCKER_OPTION_NAMES);
  const prefix = orDefault(options.prefix, DEFAULTS.prefix);
  if (typeof prefix !== 'string' || byteLength(prefix) > MAX_PREFIX_BYTES) {
    throw new InvalidArgumentError(
      'prefix',
      `must be a string of at most ${MAX_PREFIX_BYTES} bytes`,
    );
  }
  if (/[{}]/.test(prefix)) {
    throw new InvalidArgumentError(
      'prefix',
      'must not contain { or }: latchkey puts each lock in its own Redis Cluster hash tag',
    );
  }
  const driftFactor = orDefault(options.driftFactor, DEFAULTS.driftFactor);
  if (typeof driftFactor !== 'number' || !(driftFactor >= 0 && driftFactor < 0.5)) {
    throw new InvalidArgumentError(
      'driftFactor',
      `must be a number in [0, 0.5) (got ${describe(driftFactor)})`,
    );
  }
  const commandTimeoutMs = duration(
    'commandTimeoutMs',
    orDefault(options.commandTimeoutMs, DEFAULTS.commandTimeoutMs),
    { min: 1 },
  );
  const replicas = orDefault(options.replicas, DEFAULTS.replicas);
  if (
    typeof replicas !== 'number' ||
    !Number.isSafeInteger(replicas) ||
    replicas < 0 ||
    replicas > MAX_REPLICAS
  ) {
    throw new InvalidArgumentError(
      'replicas',
      `must be an integer between 0 and ${MAX_REPLICAS} (got ${describe(replicas)})`,
    );
  }
  const replicaTimeoutMs = duration(
    'replicaTimeoutMs',
    orDefault(options.replicaTimeoutMs, DEFAULTS.replicaTimeoutMs),
    { min: 1 },
  );
  if (replicas > 0 && replicaTimeoutMs >= commandTimeoutMs) {
    throw new InvalidArgumentError(
      'replicaTimeoutMs',
      `must be below commandTimeoutMs, which bounds the script and its WAIT together (replicaTimeoutMs ${replicaTimeoutMs}, commandTimeoutMs ${commandTimeoutMs})`,
    );
  }
  const resolved: ResolvedLockerOptions = {
    prefix,
    driftFactor,
    commandTimeoutMs,
    replicas,
    replicaTimeoutMs,
    lock: pickLockOptions(options),
  };
  // Validate the lock defaults now, so a bad locker option fails at construction, not at first use.
  resolveLockOptions(resolved, undefined);
  return resolved;
}

/** Only `undefined` selects the default; `null` is checked (and rejected) like any other value. */
function orDefault<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

function pickLockOptions(options: LockOptions): LockOptions {
  const picked: Record<string, unknown> = {};
  for (const name of LOCK_OPTION_NAMES) {
    const value = options[name as keyof LockOptions];
    if (value !== undefined) picked[name] = value;
  }
  return picked as LockOptions;
}

/** Combines a call's options with the locker's defaults and checks every rule. */
export function resolveLockOptions(
  locker: ResolvedLockerOptions,
  input: unknown,
  known: readonly string[] = ACQUIRE_OPTION_NAMES,
): ResolvedLockOptions {
  const call = requireOptionsObject('options', input) as AcquireOptions;
  rejectUnknown('options', call, known);
  const merged: LockOptions = { ...locker.lock, ...pickLockOptions(call) };

  const ttlMs = duration('ttlMs', orDefault(merged.ttlMs, DEFAULTS.ttlMs), { min: MIN_TTL_MS });
  const waitMs = duration('waitMs', orDefault(merged.waitMs, DEFAULTS.waitMs), {
    min: 0,
    allowInfinity: true,
  });
  const autoRefresh = orDefault(merged.autoRefresh, DEFAULTS.autoRefresh);
  if (typeof autoRefresh !== 'boolean') {
    throw new InvalidArgumentError(
      'autoRefresh',
      `must be a boolean (got ${describe(autoRefresh)})`,
    );
  }
  const refreshMs = duration(
    'refreshMs',
    orDefault(merged.refreshMs, Math.max(1, Math.floor(ttlMs * DEFAULTS.refreshShare))),
    { min: 1 },
  );
  if (refreshMs >= ttlMs) {
    throw new InvalidArgumentError(
      'refreshMs',
      `must be below ttlMs, or the lock expires before it is refreshed (refreshMs ${refreshMs}, ttlMs ${ttlMs})`,
    );
  }
  const maxHoldMs = duration('maxHoldMs', orDefault(merged.maxHoldMs, DEFAULTS.maxHoldMs), {
    min: 1,
    allowInfinity: true,
  });
  if (maxHoldMs < ttlMs) {
    throw new InvalidArgumentError(
      'maxHoldMs',
      `must be at least ttlMs, since a lock lives ttlMs even without refresh (maxHoldMs ${maxHoldMs}, ttlMs ${ttlMs})`,
    );
  }
  const retry = merged.retry;
  if (retry !== undefined && !isRetryStrategy(retry)) {
    throw new InvalidArgumentError(
      'retry',
      'must be a strategy made by linearBackoff, fixedDelay, exponentialBackoff, maxAttempts or noRetry',
    );
  }
  const driftMs = driftMsFor(ttlMs, locker.driftFactor);
  return { ttlMs, waitMs, autoRefresh, refreshMs, maxHoldMs, retry, driftMs };
}

/** Ms taken off a validity of `ms` for clock drift between client and server (and rounding). */
export function driftMsFor(ms: number, driftFactor: number): number {
  return Math.floor(ms * driftFactor) + 2;
}

/** Checks a call's `signal`: it must be an AbortSignal, and an aborted one ends the call at once. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  }
  signal.throwIfAborted();
  return signal;
}

/** Checks a lock name: a non-empty string of at most {@link MAX_NAME_BYTES} UTF-8 bytes. */
export function checkName(name: unknown, argument = 'name'): string {
  if (typeof name !== 'string') {
    throw new InvalidArgumentError(argument, `must be a string (got ${typeof name})`);
  }
  if (name.length === 0) throw new InvalidArgumentError(argument, 'must not be empty');
  if (!name.isWellFormed()) {
    throw new InvalidArgumentError(
      argument,
      'must be well-formed Unicode (it has a lone surrogate)',
    );
  }
  if (byteLength(name) > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(argument, `must be at most ${MAX_NAME_BYTES} bytes of UTF-8`);
  }
  return name;
}

/** Checks the `fn` of a `with…` form, before anything is acquired for it. */
export function checkFunction(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'must be a function');
}

/** Checks the options of an `observe` (a lock's or an election's): `{ signal? }`. */
export function resolveObserveSignal(input: unknown): AbortSignal | undefined {
  const options = requireOptionsObject('options', input) as { signal?: unknown };
  rejectUnknown('options', options, ['signal']);
  return checkSignal(options.signal);
}

/** Checks the options of `forceRelease`: `{ token? }`, a non-empty string when given. */
export function resolveForceReleaseToken(input: unknown): string | undefined {
  const options = requireOptionsObject('options', input) as { token?: unknown };
  rejectUnknown('options', options, ['token']);
  const { token } = options;
  if (token !== undefined && (typeof token !== 'string' || token === '')) {
    throw new InvalidArgumentError('token', `must be a non-empty string (got ${describe(token)})`);
  }
  return token;
}

/** Checks `owner` of a reentrant acquire: undefined, or a string with the rules of a name. */
export function resolveOwner(input: unknown): string | undefined {
  const { owner } = requireOptionsObject('options', input) as ReentrantOptions;
  return owner === undefined ? undefined : checkName(owner, 'owner');
}

/** Checks a semaphore's options: `limit` is required, an integer in [1, MAX_SEMAPHORE_LIMIT]. */
export function resolveSemaphoreOptions(input: unknown): { readonly limit: number } {
  if (input === undefined) throw new InvalidArgumentError('options', 'must give the `limit`');
  const options = requireOptionsObject('options', input) as SemaphoreOptions;
  rejectUnknown('options', options, ['limit']);
  return { limit: count('limit', options.limit, MAX_SEMAPHORE_LIMIT) };
}

/** Checks `permits` of a semaphore acquire: an integer in [1, limit]; default 1. */
export function resolvePermits(input: unknown, limit: number): number {
  const { permits } = requireOptionsObject('options', input) as PermitOptions;
  return permits === undefined ? 1 : count('permits', permits, limit);
}

/** An integer in [1, max]. */
function count(argument: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(
      argument,
      `must be an integer between 1 and ${max} (got ${describe(value)})`,
    );
  }
  return value;
}
