/**
 * A reentrant lock: the same owner acquires again without waiting and keeps its fencing token;
 * the lock is free once the owner has released every acquisition. Two meanings of "the same
 * owner": the async context, in one process (an acquire nested inside a `withLock` of the same
 * lock shares the hold, without a Redis call), and an `owner` id the caller passes (a job id),
 * counted in Redis across processes. A crashed holder frees the lock after its ttl whatever its
 * count. Waiting, fairness, auto-refresh, loss and fencing are the mutex's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { ReentrantSnapshot } from '../core/backend.js';
import {
  HeldLock,
  type HeldLockContext,
  type Lock,
  type ReleaseResult,
} from '../core/held-lock.js';
import { type HeldFunction, runHolding } from '../core/run-holding.js';
import {
  checkFunction,
  checkName,
  checkSignal,
  REENTRANT_OPTION_NAMES,
  type ReentrantOptions,
  resolveLockOptions,
  resolveOwner,
} from '../options.js';
import type { KindContext } from './context.js';
import { tryOnce } from './try-once.js';

/** A held reentrant lock: a {@link Lock} that also says whose it is. */
export interface ReentrantHold extends Lock {
  /** Who holds it: the `owner` passed to acquire, or a random id for a hold of the async context. */
  readonly owner: string;
}

/** What `inspect` reads about a reentrant lock, without changing it. */
export interface ReentrantState {
  readonly locked: boolean;
  /** The owner holding it: the `owner` passed to acquire, or a random id for an in-process hold. */
  readonly owner: string | undefined;
  /** How many acquisitions of the owner hold it (in-process nesting counts once). */
  readonly holdCount: number;
  /** Ms until the hold expires unless extended; 0 when free. */
  readonly remainingMs: number;
  /** The holder's fencing token (shared by all its acquisitions); 0 when free. */
  readonly fencingToken: number;
  /** Callers queued for the lock (including ones that may have died recently). */
  readonly waiters: number;
  /** The last fencing token issued for this name, 0 if none yet. */
  readonly lastFencingToken: number;
}

/**
 * One hold of this process on a reentrant lock: the acquisition in Redis, and how many handles of
 * the async context share it. Released in Redis when the last of them is released.
 */
interface LocalHold {
  readonly context: KindContext;
  readonly name: string;
  readonly lock: ReentrantHold;
  sharers: number;
}

/** The holds of the current async context, innermost last. */
const contextHolds = new AsyncLocalStorage<readonly LocalHold[]>();

/** A handle on a hold shared within an async context; the last one released releases it. */
class SharedHold implements ReentrantHold {
  readonly #hold: LocalHold;
  #release: Promise<ReleaseResult> | undefined;

  constructor(hold: LocalHold) {
    this.#hold = hold;
    hold.sharers++;
  }

  get name(): string {
    return this.#hold.lock.name;
  }
  get owner(): string {
    return this.#hold.lock.owner;
  }
  get token(): string {
    return this.#hold.lock.token;
  }
  get fencingToken(): number {
    return this.#hold.lock.fencingToken;
  }
  get signal(): AbortSignal {
    return this.#hold.lock.signal;
  }
  get remainingMs(): number {
    return this.#release ? 0 : this.#hold.lock.remainingMs;
  }
  get isHeld(): boolean {
    return !this.#release && this.#hold.lock.isHeld;
  }

  extend(ttlMs?: number): Promise<void> {
    return this.#hold.lock.extend(ttlMs);
  }

  release(): Promise<ReleaseResult> {
    this.#release ??= this.#releaseOnce();
    return this.#release;
  }

  async #releaseOnce(): Promise<ReleaseResult> {
    const hold = this.#hold;
    hold.sharers--;
    if (hold.sharers === 0) return hold.lock.release();
    // Others of the context still share the hold: it stays, and this handle is done with it.
    return hold.lock.isHeld
      ? { outcome: 'released', released: true }
      : { outcome: 'expired', released: false };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

class HeldReentrant extends HeldLock implements ReentrantHold {
  constructor(
    context: HeldLockContext,
    acquired: {
      readonly token: string;
      readonly fencingToken: number;
      readonly validUntil: number;
    },
    readonly owner: string,
  ) {
    super(context, context.store.name, acquired.token, acquired.fencingToken, acquired.validUntil);
  }
}

/**
 * A lock its owner takes again without waiting: nested calls inside its `withLock`, or acquisitions
 * with the same `owner`, in any process. Every acquisition is released once. Made by
 * `locker.reentrant(name)`, without a Redis call.
 */
export class ReentrantLock {
  readonly name: string;
  readonly #context: KindContext;

  constructor(context: KindContext, name: string) {
    this.#context = context;
    this.name = checkName(name);
  }

  /**
   * Takes the lock, or joins the hold the owner already has: inside a `withLock` of this lock
   * (same async context) at once and without a Redis call; for an `owner` that holds it, with one
   * call and no wait. Otherwise waits like `Locker.acquire`. Every acquisition is released once.
   *
   * @example
   * await using step = await jobs.acquire({ owner: `job:${job.id}` });
   */
  async acquire(options?: ReentrantOptions): Promise<ReentrantHold> {
    this.#context.assertOpen();
    const owner = resolveOwner(options);
    const local = this.#localHold(owner);
    if (local) {
      // Checked as a new acquire would be, so misuse fails the same way inside and outside.
      resolveLockOptions(this.#context.options, options, REENTRANT_OPTION_NAMES);
      checkSignal(options?.signal)?.throwIfAborted();
      return new SharedHold(local);
    }
    return this.#acquireInRedis(owner ?? newOwner(), options);
  }

  /** One attempt: the lock if it is free or the owner's, `null` otherwise. */
  tryAcquire(options?: Omit<ReentrantOptions, 'waitMs' | 'retry'>): Promise<ReentrantHold | null> {
    return tryOnce(options, (once) => this.acquire(once));
  }

  /**
   * Runs `fn` holding the lock, like `Locker.withLock`. Acquires and `withLock` calls of this
   * lock made inside `fn` (in its async context) share the hold instead of waiting for it; the
   * lock is released when the outermost hold ends.
   */
  async withLock<T>(fn: HeldFunction<T, ReentrantHold>, options?: ReentrantOptions): Promise<T> {
    checkFunction(fn);
    this.#context.assertOpen();
    const owner = resolveOwner(options);
    const local = this.#localHold(owner);
    if (local) {
      resolveLockOptions(this.#context.options, options, REENTRANT_OPTION_NAMES);
      checkSignal(options?.signal)?.throwIfAborted();
      return runHolding(new SharedHold(local), fn);
    }
    const lock = await this.#acquireInRedis(owner ?? newOwner(), options);
    const hold: LocalHold = { context: this.#context, name: this.name, lock, sharers: 0 };
    const shared = new SharedHold(hold);
    const holds = [...(contextHolds.getStore() ?? []), hold];
    return runHolding(shared, (signal, held) => contextHolds.run(holds, () => fn(signal, held)));
  }

  /** Reads the holder, its hold count and the queue without changing them. */
  async inspect(): Promise<ReentrantState> {
    this.#context.assertOpen();
    return toState(await this.#context.backend.inspectReentrant(this.name));
  }

  /**
   * The hold of this lock the async context has, if it may be shared: a call without an owner
   * shares any; a call with one only that owner's.
   */
  #localHold(owner: string | undefined): LocalHold | undefined {
    const holds = contextHolds.getStore();
    if (!holds) return undefined;
    for (let i = holds.length - 1; i >= 0; i--) {
      const hold = holds[i] as LocalHold;
      if (hold.context !== this.#context || hold.name !== this.name) continue;
      if (!hold.lock.isHeld || hold.sharers === 0) return undefined;
      return owner === undefined || owner === hold.lock.owner ? hold : undefined;
    }
    return undefined;
  }

  #acquireInRedis(owner: string, options: ReentrantOptions | undefined): Promise<HeldReentrant> {
    const resolved = resolveLockOptions(this.#context.options, options, REENTRANT_OPTION_NAMES);
    const signal = checkSignal(options?.signal);
    const store = this.#context.backend.reentrant(this.name, owner);
    return this.#context.acquireHeld(
      store,
      resolved,
      signal,
      (context, acquired) => new HeldReentrant(context, acquired, owner),
    );
  }
}

/** An owner for a hold of the async context: random, so it is shared by nobody else. */
function newOwner(): string {
  return `local:${randomBytes(16).toString('hex')}`;
}

function toState(snapshot: ReentrantSnapshot): ReentrantState {
  const { holder } = snapshot;
  return {
    locked: holder !== undefined,
    owner: holder?.owner,
    holdCount: holder?.holdCount ?? 0,
    remainingMs: holder?.remainingMs ?? 0,
    fencingToken: holder?.fencingToken ?? 0,
    waiters: snapshot.waiters,
    lastFencingToken: snapshot.lastFencingToken,
  };
}
