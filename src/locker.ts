/**
 * The public entry point: a Locker makes locks on one Redis through an adapter. Create it with
 * `createLocker` from `latchkey/ioredis` or `latchkey/node-redis`, or with `new Locker(adapter)`.
 */
import { setMaxListeners } from 'node:events';
import type { RedisAdapter } from './backends/redis/adapter.js';
import { RedisSession } from './backends/redis/backend.js';
import { acquire } from './core/acquire-loop.js';
import type { LockStore } from './core/backend.js';
import { HeldLock, type HeldLockContext, type Lock } from './core/held-lock.js';
import { observeChanges } from './core/observe-changes.js';
import { type HeldFunction, runHolding } from './core/run-holding.js';
import { traceWait } from './core/wait-trace.js';
import { InvalidArgumentError, LockerClosedError } from './errors.js';
import type { KindContext, MakeHandle } from './kinds/context.js';
import { Election } from './kinds/election.js';
import { MultiLock } from './kinds/multi.js';
import { ReadWriteLock } from './kinds/read-write.js';
import { ReentrantLock } from './kinds/reentrant.js';
import { Semaphore } from './kinds/semaphore.js';
import { tryOnce } from './kinds/try-once.js';
import {
  type AcquireOptions,
  checkFunction,
  checkName,
  checkSignal,
  type LockerOptions,
  type ResolvedLockerOptions,
  type ResolvedLockOptions,
  resolveForceReleaseToken,
  resolveLockerOptions,
  resolveLockOptions,
  resolveObserveSignal,
  type SemaphoreOptions,
} from './options.js';

/** What `inspect` reads about a lock, without changing it. */
export interface LockState {
  /** True while some client holds the lock (including a waiter a release just granted it to). */
  readonly locked: boolean;
  /** The holder's token, when held. */
  readonly token: string | undefined;
  /** Ms until the lock key expires unless extended; 0 when free. */
  readonly remainingMs: number;
  /** The last fencing token issued for this name, 0 if none yet. */
  readonly lastFencingToken: number;
  /** Processes' waiters queued for the lock (including ones that may have died recently). */
  readonly waiters: number;
}

/** The function `withLock` runs while holding the lock: it gets the lock's loss signal and the lock. */
export type LockedFunction<T> = HeldFunction<T>;

/** What `forceRelease` did. */
export interface ForceReleaseResult {
  /**
   * `'released'`: the holder's hold ended (and the lock went to the next waiter, if one was
   * live); `'free'`: nobody held the lock (or the token asked for had already left it);
   * `'taken'`: the lock is held by another token than the one asked for, and was left alone.
   */
  readonly outcome: 'released' | 'free' | 'taken';
  /** The token whose hold ended (`'released'`), or that holds the lock now (`'taken'`). */
  readonly token: string | undefined;
  /** True when a release handed the lock to a waiter, who got the next fencing token. */
  readonly handedOver: boolean;
}

/** Options of `forceRelease`. */
export interface ForceReleaseOptions {
  /**
   * Release only if this token holds the lock (as `inspect` read it): an operator's takeover
   * then never ends a hold that began after they looked.
   * @default the token holding the lock when `forceRelease` reads it
   */
  readonly token?: string;
}

/** Options of `observe`. */
export interface ObserveLockOptions {
  /** Ends the observation; the iterator then returns. */
  readonly signal?: AbortSignal;
}

/**
 * How often `observe` reads the lock when nothing was pushed: the queue of waiters is not pushed,
 * and without a key watcher (see RedisAdapter.createKeyWatcher) neither is the holder.
 */
export const OBSERVE_POLL_MS = 1_000;
/** After a holder's expiry, `observe` reads again this much later (Redis expires keys lazily). */
const EXPIRY_MARGIN_MS = 5;

/**
 * Makes locks of every kind on one Redis, through a {@link RedisAdapter}: mutexes (`acquire`,
 * `withLock`) and the other kinds (`reentrant`, `multi`, `election`, `semaphore`, `readWrite`).
 * Create it with `createLocker` from `latchkey/ioredis` or `latchkey/node-redis`, or with
 * `new Locker(adapter, options)`; `close()` it when done.
 */
export class Locker {
  readonly #options: ResolvedLockerOptions;
  readonly #session: RedisSession;
  readonly #closeController = new AbortController();
  readonly #handles = new Set<HeldLock>();
  /** What the kinds (semaphore, …) get of this locker. */
  readonly #kindContext: KindContext;
  #closing: Promise<void> | undefined;

  constructor(adapter: RedisAdapter, options?: LockerOptions) {
    if (
      typeof adapter !== 'object' ||
      adapter === null ||
      typeof adapter.runScript !== 'function' ||
      typeof adapter.createSubscriber !== 'function'
    ) {
      throw new InvalidArgumentError(
        'adapter',
        'must implement RedisAdapter (runScript, createSubscriber)',
      );
    }
    // Every waiting acquire listens on this signal until it stops waiting; thousands may wait at
    // once, which is no leak (each listener goes when its sleep ends), so lift the warning limit.
    setMaxListeners(0, this.#closeController.signal);
    this.#options = resolveLockerOptions(options);
    if (this.#options.replicas > 0 && typeof adapter.runScriptAndWait !== 'function') {
      throw new InvalidArgumentError(
        'replicas',
        adapter.cluster
          ? 'is not available on a Redis Cluster: WAIT must follow the script on its connection'
          : 'needs an adapter that can wait for replicas (RedisAdapter.runScriptAndWait)',
      );
    }
    this.#session = new RedisSession(adapter, this.#options, this.#closeController.signal);
    this.#kindContext = {
      backend: this.#session,
      options: this.#options,
      assertOpen: () => this.#assertOpen(),
      closed: this.#closeController.signal,
      acquireHeld: (store, resolved, signal, make) =>
        this.#acquireHeld(store, resolved, signal, make),
    };
  }

  /**
   * Acquires the lock `name`, waiting up to `waitMs` for a holder to release it. Rejects with
   * `LockTimeoutError` when the wait ends, `signal.reason` when `signal` aborts, `LockerClosedError`
   * when the locker closes, and `InvalidArgumentError` for bad input (before sending anything).
   *
   * @example
   * await using lock = await locker.acquire('orders:42', { ttlMs: 5_000 });
   * await charge(order, { fencingToken: lock.fencingToken, signal: lock.signal });
   */
  async acquire(name: string, options?: AcquireOptions): Promise<Lock> {
    this.#assertOpen();
    checkName(name);
    const resolved = resolveLockOptions(this.#options, options);
    const signal = checkSignal(options?.signal);
    return this.#acquireHeld(this.#session.mutex(name), resolved, signal, newHeldLock);
  }

  /** The steps every kind's acquire shares: the loop, the handle, the race with close and abort. */
  #acquireHeld<H extends HeldLock>(
    store: LockStore,
    resolved: ResolvedLockOptions,
    signal: AbortSignal | undefined,
    make: MakeHandle<H>,
  ): Promise<H> {
    return traceWait(store, resolved.waitMs, signal, () =>
      this.#acquireHeldNow(store, resolved, signal, make),
    );
  }

  async #acquireHeldNow<H extends HeldLock>(
    store: LockStore,
    resolved: ResolvedLockOptions,
    signal: AbortSignal | undefined,
    make: MakeHandle<H>,
  ): Promise<H> {
    const acquired = await acquire(
      {
        session: this.#session,
        closed: this.#closeController.signal,
        driftFactor: this.#options.driftFactor,
      },
      store,
      resolved,
      signal,
    );
    const handle = make(
      {
        store,
        commandTimeoutMs: this.#session.commandTimeoutMs,
        options: resolved,
        driftFactor: this.#options.driftFactor,
        onSettled: (settled) => this.#handles.delete(settled),
      },
      acquired,
    );
    // A grant or an acquired reply may arrive in the same turn as the close or the caller's abort
    // it raced with: the caller gave up, so the lock is not theirs to get. Give it back (to the
    // next waiter) before saying so.
    if (this.#closing || signal?.aborted) {
      await handle.release().catch(() => {});
      if (this.#closing) throw new LockerClosedError();
      throw signal?.reason;
    }
    // A granted lock is valid for its grant's claim window (or from the attempt the grant
    // followed), so it may be short: claim it for the ttl by an extension within half of what is
    // left. With auto-refresh the first refresh comes refreshMs from now, and a fresh lock then
    // has ttlMs - refreshMs of validity to spare; so claim sooner unless at least half of that
    // spare is left. A holder that releases before then sends no claim at all; a failed one shows
    // as a retry of auto-refresh, or as a loss at the deadline.
    const keepsHalfTheSpare = (resolved.ttlMs + resolved.refreshMs) / 2;
    if (acquired.granted && (!resolved.autoRefresh || handle.remainingMs < keepsHalfTheSpare)) {
      handle.claimWithin(Math.floor(handle.remainingMs / 2));
    }
    this.#handles.add(handle);
    return handle;
  }

  /** Acquires `name` if it is free right now; resolves with `null` if it is held. */
  async tryAcquire(
    name: string,
    options?: Omit<AcquireOptions, 'waitMs' | 'retry'>,
  ): Promise<Lock | null> {
    return tryOnce(options, (once) => this.acquire(name, once));
  }

  /**
   * Runs `fn` while holding `name`: acquires, keeps the lock alive, aborts the `signal` passed to
   * `fn` if the lock is lost, and releases in `finally`, also when `fn` throws. Resolves with
   * `fn`'s result. Rejects with `LockLostError` if the lock was lost while `fn` ran (its work may
   * have overlapped with another holder's), whatever `fn` did: when `fn` threw too, its error is
   * the `cause`. Otherwise rejects with `fn`'s error. A `close()` of the locker while `fn` runs
   * counts as a loss (reason `'closed'`).
   */
  async withLock<T>(name: string, fn: LockedFunction<T>, options?: AcquireOptions): Promise<T> {
    checkFunction(fn);
    return runHolding(await this.acquire(name, options), fn);
  }

  /** Reads the state of lock `name` without changing it. */
  async inspect(name: string): Promise<LockState> {
    this.#assertOpen();
    const state = await this.#session.inspectMutex(checkName(name));
    return {
      locked: state.value !== null,
      token: state.value ?? undefined,
      remainingMs: Math.max(0, state.pttlMs),
      lastFencingToken: state.lastFencingToken,
      waiters: state.queued,
    };
  }

  /**
   * The state of lock `name` now, then each change, as an async iterable: a new holder or fencing
   * token, a release or expiry, a change in the number of waiters (`remainingMs` alone changing is
   * not a change). The holder's changes are pushed by Redis where the adapter has a key watcher
   * (client-side caching, as for loss by push); the lock is also read at the holder's expiry and
   * every {@link OBSERVE_POLL_MS} ms, at most one read at a time. A failed read is retried at the
   * next of those moments, not thrown. Ends when `signal` aborts or the locker closes.
   *
   * @example
   * for await (const state of locker.observe('nightly-report', { signal })) {
   *   console.log(state.locked ? `held, fencing token ${state.lastFencingToken}` : 'free');
   * }
   */
  observe(name: string, options?: ObserveLockOptions): AsyncGenerator<LockState, void, undefined> {
    this.#assertOpen();
    checkName(name);
    return this.#observe(name, resolveObserveSignal(options));
  }

  #observe(
    name: string,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<LockState, void, undefined> {
    return observeChanges(
      {
        label: `lock ${name}`,
        watch: (onChange) => this.#session.watchMutex(name, onChange),
        read: () => this.inspect(name),
        same: sameState,
        lookAgainMs: (last) =>
          // A key without an expiry (foreign data) reads as 0 ms left: poll for it, do not spin.
          last?.locked && last.remainingMs > 0
            ? Math.min(last.remainingMs + EXPIRY_MARGIN_MS, OBSERVE_POLL_MS)
            : OBSERVE_POLL_MS,
      },
      signal,
      this.#closeController.signal,
    );
  }

  /**
   * Ends the current hold of lock `name`, whoever holds it: an operator's takeover of a lock whose
   * holder is stuck. It is the holder's own release, run for the holder's token (compare and
   * delete in one script): the lock goes to the next live waiter, who gets the next fencing token,
   * or is left free; fencing tokens keep growing either way. The old holder learns of the loss at
   * its next refresh (at once, where its signal is watched by push), but work it does without
   * checking its signal or passing its fencing token on is not stopped.
   *
   * @example
   * const { token } = await locker.inspect('nightly-report');
   * await locker.forceRelease('nightly-report', { token }); // only that hold, if it still holds
   */
  async forceRelease(name: string, options?: ForceReleaseOptions): Promise<ForceReleaseResult> {
    this.#assertOpen();
    checkName(name);
    const token = resolveForceReleaseToken(options) ?? (await this.inspect(name)).token;
    if (token === undefined) return { outcome: 'free', token: undefined, handedOver: false };
    const reply = await this.#session.forceReleaseMutex(name, token);
    switch (reply) {
      case 'handed-over':
        return { outcome: 'released', token, handedOver: true };
      case 'released':
        return { outcome: 'released', token, handedOver: false };
      case 'missing':
        return { outcome: 'free', token: undefined, handedOver: false };
      case 'other-token':
        return { outcome: 'taken', token: (await this.inspect(name)).token, handedOver: false };
    }
  }

  /**
   * Closes the locker: pending acquires reject with `LockerClosedError`; locks still held are
   * reported lost first (their signals abort with `LockLostError`, reason `'closed'`, so running
   * `withLock` calls reject with it) and then released; and the subscriber connection is closed. The client you passed in stays open.
   * Afterwards nothing the locker started keeps the process alive.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    this.#closeController.abort(new LockerClosedError());
    // Every held lock is reported lost before its release can reach Redis: once released, another
    // process may take it, so work still running under it must have been told to stop.
    const held = [...this.#handles];
    for (const handle of held) handle.lose('closed');
    await Promise.allSettled(held.map((handle) => handle.release()));
    // Clean-ups stop retrying now and make one last attempt each, so this stays bounded.
    await this.#session.close();
  }

  /**
   * A counting semaphore: up to `limit` permits of `name` held at once, each holder taking one or
   * more. Makes no Redis call; the first `acquire` does.
   *
   * @example
   * const pool = locker.semaphore('db-pool', { limit: 4 });
   * await using permit = await pool.acquire({ permits: 1 });
   */
  semaphore(name: string, options: SemaphoreOptions): Semaphore {
    this.#assertOpen();
    return new Semaphore(this.#kindContext, name, options);
  }

  /**
   * Leader election on `name`: campaign with a value, learn and observe the leader, resign.
   * Makes no Redis call; the first campaign, leader() or observe() does.
   *
   * @example
   * const scheduler = locker.election('scheduler');
   * const leadership = await scheduler.campaign(os.hostname(), { waitMs: Infinity });
   */
  election(name: string): Election {
    this.#assertOpen();
    return new Election(this.#kindContext, name);
  }

  /**
   * Several names held together, all or none, through one handle with a fencing token per name.
   * Each name is the mutex of that name. Makes no Redis call; the first acquire does.
   *
   * @example
   * await using both = await locker.multi(['account:1', 'account:2']).acquire();
   * await transfer({ fencingTokens: both.fencingTokens, signal: both.signal });
   */
  multi(names: readonly string[]): MultiLock {
    this.#assertOpen();
    return new MultiLock(this.#kindContext, names);
  }

  /**
   * A reentrant lock: the same owner (the async context inside `withLock`, or an `owner` id passed
   * to acquire) takes it again without waiting; it is free once every acquisition is released.
   * Makes no Redis call; the first acquire does.
   *
   * @example
   * const ledger = locker.reentrant('ledger');
   * await ledger.withLock(async () => {
   *   await ledger.withLock(async () => {}); // shares the hold: no wait, no Redis call
   * });
   */
  reentrant(name: string): ReentrantLock {
    this.#assertOpen();
    return new ReentrantLock(this.#kindContext, name);
  }

  /**
   * A read-write lock: many readers of `name` at once, or one writer alone, served in arrival
   * order. Makes no Redis call; the first acquire does.
   *
   * @example
   * const config = locker.readWrite('config');
   * await using read = await config.acquireRead();
   */
  readWrite(name: string): ReadWriteLock {
    this.#assertOpen();
    return new ReadWriteLock(this.#kindContext, name);
  }

  #assertOpen(): void {
    if (this.#closing) throw new LockerClosedError();
  }
}

/** The same lock state for `observe`, whatever time is left. */
function sameState(a: LockState, b: LockState): boolean {
  return (
    a.locked === b.locked &&
    a.token === b.token &&
    a.lastFencingToken === b.lastFencingToken &&
    a.waiters === b.waiters
  );
}

function newHeldLock(
  context: HeldLockContext,
  acquired: { readonly token: string; readonly fencingToken: number; readonly validUntil: number },
): HeldLock {
  return new HeldLock(
    context,
    context.store.name,
    acquired.token,
    acquired.fencingToken,
    acquired.validUntil,
  );
}
