/**
 * A multi-lock: several names held together, all or none, through one handle. Each name is the
 * mutex of that name (a multi-lock and a plain `acquire` of one of its names exclude each other),
 * with its own fencing token. Names are taken one at a time in one order every process agrees on
 * (sorted), holding the earlier ones while waiting for the next: two callers asking for
 * overlapping sets in different orders then wait in line for the same first name instead of each
 * holding what the other wants, so they can neither deadlock nor livelock. Any step that fails
 * (timeout, abort, error) gives back what was taken. One name per step also works where names
 * live on different servers or Cluster slots.
 */
import { HeldLock, type Lock, type ReleaseOutcome, type ReleaseResult } from '../core/held-lock.js';
import { type HeldFunction, runHolding } from '../core/run-holding.js';
import { InvalidArgumentError, LockLostError, LockTimeoutError } from '../errors.js';
import {
  type AcquireOptions,
  checkFunction,
  checkName,
  checkSignal,
  type ResolvedLockOptions,
  resolveLockOptions,
} from '../options.js';
import { monotonicNow, withTimeout } from '../time.js';
import type { KindContext } from './context.js';
import { tryOnce } from './try-once.js';

/** Most names one multi-lock takes. */
export const MAX_MULTI_NAMES = 1_000;

/** Several locks held together. Dispose it (`await using`) or call `release()`. */
export interface MultiHold extends AsyncDisposable {
  /** The names joined with ", ", as errors about the hold name it. */
  readonly name: string;
  /** The names, in the order they were taken (sorted). */
  readonly names: readonly string[];
  /** Each name's held lock, with its own token and fencing token. */
  readonly locks: ReadonlyMap<string, Lock>;
  /** Each name's fencing token, for a store that fences per name. */
  readonly fencingTokens: ReadonlyMap<string, number>;
  /** Aborts with `LockLostError` the moment any of the names is known lost. */
  readonly signal: AbortSignal;
  /** Validity left: the least of the names'. */
  readonly remainingMs: number;
  /** True while every name is held. */
  readonly isHeld: boolean;
  /** Extends every name (see `Lock.extend`); rejects if any is no longer held. */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Releases every name. `released` is true when all of them were still held; `outcome` is the
   * worst of theirs (`'taken'`, then `'expired'`, then `'released'`); `outcomes` has each.
   */
  release(): Promise<MultiReleaseResult>;
}

/** What {@link MultiHold.release} found: the worst outcome of all the names, and each name's. */
export interface MultiReleaseResult extends ReleaseResult {
  readonly outcomes: ReadonlyMap<string, ReleaseOutcome>;
}

class HeldMulti implements MultiHold {
  readonly name: string;
  readonly names: readonly string[];
  readonly locks: ReadonlyMap<string, Lock>;
  readonly fencingTokens: ReadonlyMap<string, number>;
  readonly #locks: readonly Lock[];
  #signal: AbortSignal | undefined;
  #release: Promise<MultiReleaseResult> | undefined;

  constructor(locks: readonly Lock[]) {
    this.#locks = locks;
    this.names = locks.map((lock) => lock.name);
    this.name = this.names.join(', ');
    this.locks = new Map(locks.map((lock) => [lock.name, lock]));
    this.fencingTokens = new Map(locks.map((lock) => [lock.name, lock.fencingToken]));
  }

  get signal(): AbortSignal {
    this.#signal ??= AbortSignal.any(this.#locks.map((lock) => lock.signal));
    return this.#signal;
  }

  get remainingMs(): number {
    return Math.min(...this.#locks.map((lock) => lock.remainingMs));
  }

  get isHeld(): boolean {
    return this.#locks.every((lock) => lock.isHeld);
  }

  async extend(ttlMs?: number): Promise<void> {
    const results = await Promise.allSettled(this.#locks.map((lock) => lock.extend(ttlMs)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  release(): Promise<MultiReleaseResult> {
    this.#release ??= releaseAll(this.#locks);
    return this.#release;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

const SEVERITY: Record<ReleaseOutcome, number> = { released: 0, expired: 1, taken: 2 };

/** Releases all (in reverse order of taking, so the first name is the last to go). */
async function releaseAll(locks: readonly Lock[]): Promise<MultiReleaseResult> {
  const results = await Promise.allSettled([...locks].reverse().map((lock) => lock.release()));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const outcomes = new Map<string, ReleaseOutcome>();
  let worst: ReleaseOutcome = 'released';
  results.forEach((result, i) => {
    const { outcome } = (result as PromiseFulfilledResult<ReleaseResult>).value;
    outcomes.set((locks[locks.length - 1 - i] as Lock).name, outcome);
    if (SEVERITY[outcome] > SEVERITY[worst]) worst = outcome;
  });
  return { outcome: worst, released: worst === 'released', outcomes };
}

/**
 * Several names held together, all or none, each a mutex of that name. Made by
 * `locker.multi(names)`, without a Redis call.
 */
export class MultiLock {
  /** The names, in the order they are taken. */
  readonly names: readonly string[];
  readonly #context: KindContext;

  constructor(context: KindContext, names: readonly string[]) {
    this.#context = context;
    this.names = checkNames(names);
  }

  /**
   * Takes every name, waiting up to `waitMs` in all, in the order of `names`. Rejects like
   * `Locker.acquire` (a `LockTimeoutError` names the lock it was waiting for) after giving back
   * the names already taken.
   *
   * @example
   * await using both = await locker.multi(['account:1', 'account:2']).acquire();
   */
  async acquire(options?: AcquireOptions): Promise<MultiHold> {
    this.#context.assertOpen();
    const resolved = resolveLockOptions(this.#context.options, options);
    const signal = checkSignal(options?.signal);
    const started = monotonicNow();
    const held: Lock[] = [];
    try {
      for (const name of this.names) {
        const waitMs = remainingWait(resolved, started);
        const step: ResolvedLockOptions = { ...resolved, waitMs };
        held.push(
          await this.#context.acquireHeld(
            this.#context.backend.mutex(name),
            step,
            signal,
            (context, acquired) =>
              new HeldLock(
                context,
                name,
                acquired.token,
                acquired.fencingToken,
                acquired.validUntil,
              ),
          ),
        );
      }
    } catch (error) {
      // Whatever was taken goes back (a failed give-back keeps trying in the background). The
      // caller hears within its wait plus one command's time, as from any acquire: the give-back
      // is waited for only as long as that budget allows (its commands are sent at once).
      const budgetEnd = started + resolved.waitMs + this.#context.options.commandTimeoutMs;
      const givingBack = releaseAll(held);
      const budgetLeft = budgetEnd - monotonicNow();
      await (Number.isFinite(budgetLeft)
        ? withTimeout(givingBack, Math.max(0, budgetLeft))
        : givingBack
      ).catch(() => {});
      if (error instanceof LockTimeoutError) {
        throw new LockTimeoutError(error.lockName, Math.round(monotonicNow() - started), {
          cause: error,
        });
      }
      throw error;
    }
    const hold = new HeldMulti(held);
    // A name taken early can be lost while a later one is awaited (Redis gone longer than its
    // ttl): the set was never held together, so it is not handed out.
    if (!hold.isHeld) {
      const lost = hold.signal.reason;
      await hold.release().catch(() => {});
      throw lost ?? new LockLostError(this.names.join(', '), 'expired');
    }
    return hold;
  }

  /** One attempt at every name; `null` (and nothing held) if any is held by someone else. */
  tryAcquire(options?: Omit<AcquireOptions, 'waitMs' | 'retry'>): Promise<MultiHold | null> {
    return tryOnce(options, (once) => this.acquire(once));
  }

  /**
   * Runs `fn` holding every name, like `Locker.withLock`: the signal aborts if any is lost, all
   * are released afterwards, and a loss is reported above anything `fn` did.
   */
  async withLock<T>(fn: HeldFunction<T, MultiHold>, options?: AcquireOptions): Promise<T> {
    checkFunction(fn);
    return runHolding(await this.acquire(options), fn);
  }
}

/** What is left of the caller's wait; Infinity stays Infinity. */
function remainingWait(resolved: ResolvedLockOptions, started: number): number {
  if (resolved.waitMs === Number.POSITIVE_INFINITY) return resolved.waitMs;
  return Math.max(0, Math.floor(resolved.waitMs - (monotonicNow() - started)));
}

/** Distinct, valid names, sorted: the one order every process takes them in. */
function checkNames(names: unknown): readonly string[] {
  if (!Array.isArray(names)) throw new InvalidArgumentError('names', 'must be an array of names');
  if (names.length === 0 || names.length > MAX_MULTI_NAMES) {
    throw new InvalidArgumentError(
      'names',
      `must hold 1 to ${MAX_MULTI_NAMES} names (got ${names.length})`,
    );
  }
  const checked = names.map((name) => checkName(name));
  const sorted = [...new Set(checked)].sort();
  if (sorted.length !== checked.length) {
    throw new InvalidArgumentError('names', 'must be distinct (a name appears twice)');
  }
  return sorted;
}
