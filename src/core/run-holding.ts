/**
 * The `with…(name, fn)` form every kind shares: run `fn` under a held lock, release in `finally`,
 * and report a loss that happened meanwhile above anything `fn` did.
 */
import { debug } from '../diagnostics.js';
import { LockLostError } from '../errors.js';
import type { Lock, ReleaseResult } from './held-lock.js';

/** What a `withLock`-style call holds while its function runs: a lock, or several held together. */
export interface Holding {
  /** Named in a LockLostError the release reveals. */
  readonly name: string;
  readonly signal: AbortSignal;
  /** Gives the hold back; the call does it when the function has finished. */
  release(): Promise<ReleaseResult>;
}

/** `fn` gets the lock's loss signal and the lock itself. */
export type HeldFunction<T, L extends Holding = Lock> = (
  signal: AbortSignal,
  lock: L,
) => Promise<T> | T;

/**
 * Runs `fn` while `lock` is held and releases it afterwards, also when `fn` throws. Resolves with
 * `fn`'s result. Rejects with `LockLostError` if the lock was lost while `fn` ran, whatever `fn`
 * did (when `fn` threw too, its error is the `cause`); otherwise with `fn`'s error.
 */
export async function runHolding<T, L extends Holding>(
  lock: L,
  fn: HeldFunction<T, L>,
): Promise<T> {
  const { signal } = lock;
  let ran:
    | { readonly ok: true; readonly value: T }
    | { readonly ok: false; readonly error: unknown };
  try {
    ran = { ok: true, value: await fn(signal, lock) };
  } catch (error) {
    ran = { ok: false, error };
  }
  let released: ReleaseResult | undefined;
  try {
    released = await lock.release();
  } catch (error) {
    debug('release of %s failed: %o', lock.name, error);
  }
  const lost = lossOf(lock.name, signal, released);
  if (lost) {
    // An AbortError from work that obeyed the signal, or any failure after the loss, is a
    // consequence of the loss: callers who match on `code` must see ERR_LOCK_LOST.
    if (ran.ok || ran.error === lost) throw lost;
    throw new LockLostError(lost.lockName, lost.reason, { cause: ran.error });
  }
  if (!ran.ok) throw ran.error;
  return ran.value;
}

/**
 * The loss to report: the signal's reason, or, when the release found the lock gone or another
 * token in it before the handle noticed, the loss the release revealed.
 */
function lossOf(
  name: string,
  signal: AbortSignal,
  released: ReleaseResult | undefined,
): LockLostError | undefined {
  if (signal.aborted) return signal.reason as LockLostError;
  if (!released || released.released) return undefined;
  return new LockLostError(name, released.outcome === 'taken' ? 'taken' : 'expired');
}
