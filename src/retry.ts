/**
 * Retry strategies for callers who want spinning (a fixed schedule of attempts) instead of
 * latchkey's default push wake-ups. They are small immutable values built by the factories below
 * and used only when passed as `retry` to `acquire`.
 *
 * @example
 * locker.acquire('report', { retry: maxAttempts(5, exponentialBackoff({ baseMs: 20, maxMs: 500 })) })
 */
import { InvalidArgumentError } from './errors.js';

const brand: unique symbol = Symbol('latchkey.retry');

/**
 * A schedule of attempts for `acquire`'s `retry` option. Branded: only the factories here
 * ({@link noRetry}, {@link fixedDelay}, {@link linearBackoff}, {@link exponentialBackoff},
 * {@link maxAttempts}) make one, so their options are always checked.
 */
export interface RetryStrategy {
  readonly [brand]: true;
  /** What the strategy is, for messages and debugging: `'none'`, `'linear'`, … */
  readonly kind: string;
  /**
   * Milliseconds to wait after failed attempt number `attempt` (1 for the first), or `undefined`
   * to stop trying. `random` returns a number in [0, 1) and is injectable for tests.
   */
  delayAfter(attempt: number, random: () => number): number | undefined;
}

function strategy(kind: string, delayAfter: RetryStrategy['delayAfter']): RetryStrategy {
  return Object.freeze({ [brand]: true as const, kind, delayAfter });
}

function requireDuration(argument: string, value: unknown, { allowZero = true } = {}): number {
  const min = allowZero ? 0 : 1;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(argument, `must be an integer number of milliseconds ≥ ${min}`);
  }
  return value;
}

export function isRetryStrategy(value: unknown): value is RetryStrategy {
  return typeof value === 'object' && value !== null && (value as RetryStrategy)[brand] === true;
}

/** Try once, never again. */
export function noRetry(): RetryStrategy {
  return strategy('none', () => undefined);
}

/** Wait `delayMs`, then `delayMs + stepMs`, `delayMs + 2 × stepMs`, …; `stepMs` defaults to 0 (fixed). */
export function linearBackoff(options: { delayMs: number; stepMs?: number }): RetryStrategy {
  const delayMs = requireDuration('retry.delayMs', options?.delayMs);
  const stepMs = requireDuration('retry.stepMs', options?.stepMs ?? 0);
  return strategy('linear', (attempt) => delayMs + stepMs * (attempt - 1));
}

/** Shorthand for `linearBackoff({ delayMs })`. */
export function fixedDelay(delayMs: number): RetryStrategy {
  return linearBackoff({ delayMs });
}

/**
 * Exponential backoff with full jitter: after attempt n wait a uniformly random time in
 * [0, min(maxMs, baseMs × factor^(n−1))]. `factor` defaults to 2.
 */
export function exponentialBackoff(options: {
  baseMs: number;
  maxMs: number;
  factor?: number;
}): RetryStrategy {
  const baseMs = requireDuration('retry.baseMs', options?.baseMs, { allowZero: false });
  const maxMs = requireDuration('retry.maxMs', options?.maxMs, { allowZero: false });
  if (maxMs < baseMs) throw new InvalidArgumentError('retry.maxMs', `must be ≥ baseMs (${baseMs})`);
  const factor = options?.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new InvalidArgumentError('retry.factor', 'must be a finite number ≥ 1');
  }
  return strategy('exponential', (attempt, random) => {
    const ceiling = Math.min(maxMs, baseMs * factor ** (attempt - 1));
    return Math.floor(random() * (ceiling + 1));
  });
}

/** Stop after `attempts` attempts in total (the first included), delaying as `inner` says. */
export function maxAttempts(attempts: number, inner: RetryStrategy): RetryStrategy {
  if (typeof attempts !== 'number' || !Number.isSafeInteger(attempts) || attempts < 1) {
    throw new InvalidArgumentError('retry.attempts', 'must be a positive integer');
  }
  if (!isRetryStrategy(inner)) {
    throw new InvalidArgumentError(
      'retry',
      'must be a strategy made by latchkey’s retry factories',
    );
  }
  return strategy(`${inner.kind}×${attempts}`, (attempt, random) =>
    attempt >= attempts ? undefined : inner.delayAfter(attempt, random),
  );
}
