/**
 * A counting semaphore: `limit` permits per name, each holder taking `permits` of them, all or
 * none. Waiters are served in arrival order, so a caller wanting 3 is not overtaken by callers
 * wanting 1; a release grants as many queued callers as now fit. Each holder has its own expiry:
 * a crashed holder's permits come back after its own ttl. Every holder gets a fencing token from
 * one counter per name.
 */
import type { SemaphoreSnapshot } from '../core/backend.js';
import { HeldLock, type HeldLockContext, type Lock } from '../core/held-lock.js';
import { type HeldFunction, runHolding } from '../core/run-holding.js';
import {
  checkFunction,
  checkName,
  checkSignal,
  PERMIT_OPTION_NAMES,
  type PermitOptions,
  resolveLockOptions,
  resolvePermits,
  resolveSemaphoreOptions,
  type SemaphoreOptions,
} from '../options.js';
import type { KindContext } from './context.js';
import { tryOnce } from './try-once.js';

/** Held permits of a semaphore: a {@link Lock} that also says how many permits it holds. */
export interface Permit extends Lock {
  /** How many of the semaphore's permits this holder has. */
  readonly permits: number;
}

/** One holder, as `inspect` sees it. */
export interface SemaphoreHolder {
  readonly token: string;
  readonly permits: number;
  readonly fencingToken: number;
  /** Ms until this holder's permits come back unless it extends; each holder has its own. */
  readonly remainingMs: number;
}

/** What `inspect` reads about a semaphore, without changing it. */
export interface SemaphoreState {
  /** The limit its holders and waiters use; undefined when nobody holds or waits. */
  readonly limit: number | undefined;
  /** Permits held now, by live holders. */
  readonly permitsInUse: number;
  readonly holders: readonly SemaphoreHolder[];
  /** Callers queued for permits (including ones that may have died recently). */
  readonly waiters: number;
  /** The last fencing token issued for this name, 0 if none yet. */
  readonly lastFencingToken: number;
}

class HeldPermit extends HeldLock implements Permit {
  constructor(
    context: HeldLockContext,
    acquired: {
      readonly token: string;
      readonly fencingToken: number;
      readonly validUntil: number;
    },
    readonly permits: number,
  ) {
    super(context, context.store.name, acquired.token, acquired.fencingToken, acquired.validUntil);
  }
}

/**
 * Up to `limit` permits of one name held at once, waiters served in arrival order. Made by
 * `locker.semaphore(name, { limit })`, without a Redis call.
 */
export class Semaphore {
  readonly name: string;
  readonly limit: number;
  readonly #context: KindContext;

  constructor(context: KindContext, name: string, options: SemaphoreOptions) {
    this.#context = context;
    this.name = checkName(name);
    this.limit = resolveSemaphoreOptions(options).limit;
  }

  /**
   * Takes `permits` (default 1) of the semaphore, waiting up to `waitMs` in line. Rejects like
   * `Locker.acquire`, and with `LockLimitMismatchError` if the name is in use with another limit.
   *
   * @example
   * await using permit = await pool.acquire({ permits: 2, ttlMs: 5_000 });
   */
  async acquire(options?: PermitOptions): Promise<Permit> {
    this.#context.assertOpen();
    const resolved = resolveLockOptions(this.#context.options, options, PERMIT_OPTION_NAMES);
    const permits = resolvePermits(options, this.limit);
    const signal = checkSignal(options?.signal);
    const store = this.#context.backend.semaphore(this.name, this.limit, permits);
    return this.#context.acquireHeld(
      store,
      resolved,
      signal,
      (context, acquired) => new HeldPermit(context, acquired, permits),
    );
  }

  /** Takes the permits if they are free and nobody is queued; resolves with `null` otherwise. */
  tryAcquire(options?: Omit<PermitOptions, 'waitMs' | 'retry'>): Promise<Permit | null> {
    return tryOnce(options, (once) => this.acquire(once));
  }

  /**
   * Runs `fn` while holding the permits, like `Locker.withLock`: the signal aborts if they are
   * lost, they are released afterwards, and a loss is reported above anything `fn` did.
   */
  async withPermits<T>(fn: HeldFunction<T, Permit>, options?: PermitOptions): Promise<T> {
    checkFunction(fn);
    return runHolding(await this.acquire(options), fn);
  }

  /** Reads the semaphore's holders and queue without changing them. */
  async inspect(): Promise<SemaphoreState> {
    this.#context.assertOpen();
    return toState(await this.#context.backend.inspectSemaphore(this.name));
  }
}

function toState(snapshot: SemaphoreSnapshot): SemaphoreState {
  const holders = snapshot.holders.map(({ token, permits, fencingToken, remainingMs }) => ({
    token,
    permits,
    fencingToken,
    remainingMs,
  }));
  return {
    limit: snapshot.limit ?? undefined,
    permitsInUse: holders.reduce((sum, holder) => sum + holder.permits, 0),
    holders,
    waiters: snapshot.waiters,
    lastFencingToken: snapshot.lastFencingToken,
  };
}
