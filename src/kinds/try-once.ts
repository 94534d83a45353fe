/** The `tryAcquire` form every kind shares: one attempt, `null` instead of a timeout. */
import { InvalidArgumentError, LockTimeoutError } from '../errors.js';

/**
 * Calls `acquire` with `waitMs: 0` added to `options`; resolves with `null` if the lock is held.
 * Options that only make sense for a wait are refused rather than ignored.
 */
export async function tryOnce<O extends object, L>(
  options: O | undefined,
  acquire: (options: O & { waitMs: 0 }) => Promise<L>,
): Promise<L | null> {
  if (options && ('waitMs' in options || 'retry' in options)) {
    throw new InvalidArgumentError(
      'options',
      'of tryAcquire take no waitMs or retry: it never waits',
    );
  }
  try {
    return await acquire({ ...(options as O), waitMs: 0 });
  } catch (error) {
    if (error instanceof LockTimeoutError) return null;
    throw error;
  }
}
