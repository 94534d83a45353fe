/**
 * A read-write lock: many readers at once, or one writer alone. Callers are served in arrival
 * order, so a queued writer stops later readers from going ahead of it (a stream of readers never
 * starves a writer), and the readers queued behind a writer all come in when it releases, in one
 * step. Every holder has its own expiry: a crashed reader frees its share after its own ttl. A
 * writer can downgrade to a reader without letting go. Readers and writers draw fencing tokens
 * from one counter per name, so a store can order a write after the reads before it.
 */
import type { LockMode, ReadWriteSnapshot, ReadWriteStore } from '../core/backend.js';
import { HeldLock, type HeldLockContext, type Lock } from '../core/held-lock.js';
import { type HeldFunction, runHolding } from '../core/run-holding.js';
import {
  type AcquireOptions,
  checkFunction,
  checkName,
  checkSignal,
  resolveLockOptions,
} from '../options.js';
import type { KindContext } from './context.js';
import { tryOnce } from './try-once.js';

export type { LockMode } from '../core/backend.js';

/** A held read or write lock. */
export interface ReadWriteHold extends Lock {
  /** `'read'` or `'write'`; a write hold reads `'read'` once downgraded. */
  readonly mode: LockMode;
}

/** A held write lock, which can become a read lock without letting go. */
export interface WriteHold extends ReadWriteHold {
  /**
   * Keeps the lock as a reader, in one step: no writer can come in between, and the readers
   * queued next come in at once (a writer queued next still waits for every reader). The hold
   * keeps its token, fencing token, expiry, auto-refresh and signal. Resolves at once when it
   * already reads; rejects with `LockNotHeldError` once released or lost.
   */
  downgrade(): Promise<void>;
}

/** One holder, as `inspect` sees it. */
export interface ReadWriteHolder {
  readonly token: string;
  readonly mode: LockMode;
  readonly fencingToken: number;
  /** Ms until this holder's share expires unless it extends; each holder has its own. */
  readonly remainingMs: number;
}

/** What `inspect` reads about a read-write lock, without changing it. */
export interface ReadWriteState {
  /** The writer holding the lock, if one does. */
  readonly writer: ReadWriteHolder | undefined;
  /** The readers holding the lock; empty while a writer holds it. */
  readonly readers: readonly ReadWriteHolder[];
  /** Callers queued to read or write (including ones that may have died recently). */
  readonly waiters: number;
  /** The last fencing token issued for this name (to a reader or a writer), 0 if none yet. */
  readonly lastFencingToken: number;
}

class HeldReadWrite extends HeldLock implements WriteHold {
  #mode: LockMode;
  readonly #store: ReadWriteStore;

  constructor(
    context: HeldLockContext,
    acquired: {
      readonly token: string;
      readonly fencingToken: number;
      readonly validUntil: number;
    },
    store: ReadWriteStore,
    mode: LockMode,
  ) {
    super(context, store.name, acquired.token, acquired.fencingToken, acquired.validUntil);
    this.#store = store;
    this.#mode = mode;
  }

  get mode(): LockMode {
    return this.#mode;
  }

  downgrade(): Promise<void> {
    if (this.#mode === 'read') return this.changeHold(async () => 'changed');
    return this.changeHold(async () => {
      if ((await this.#store.downgrade(this.token)) === 'missing') return 'missing';
      this.#mode = 'read';
      return 'changed';
    });
  }
}

/**
 * Many readers of one name at once, or one writer alone, served in arrival order. Made by
 * `locker.readWrite(name)`, without a Redis call.
 */
export class ReadWriteLock {
  readonly name: string;
  readonly #context: KindContext;

  constructor(context: KindContext, name: string) {
    this.#context = context;
    this.name = checkName(name);
  }

  /**
   * Takes the lock as a reader, alongside other readers, waiting up to `waitMs` behind a writer
   * that holds it or is queued. Rejects like `Locker.acquire`.
   *
   * @example
   * await using read = await config.acquireRead();
   */
  acquireRead(options?: AcquireOptions): Promise<ReadWriteHold> {
    return this.#acquire('read', options);
  }

  /**
   * Takes the lock as its only holder, waiting up to `waitMs` for the readers and writers ahead
   * of it. Rejects like `Locker.acquire`.
   *
   * @example
   * await using write = await config.acquireWrite({ ttlMs: 5_000 });
   */
  acquireWrite(options?: AcquireOptions): Promise<WriteHold> {
    return this.#acquire('write', options);
  }

  /** Reads if no writer holds or waits; resolves with `null` otherwise. */
  tryAcquireRead(
    options?: Omit<AcquireOptions, 'waitMs' | 'retry'>,
  ): Promise<ReadWriteHold | null> {
    return tryOnce(options, (once) => this.acquireRead(once));
  }

  /** Writes if nobody holds or waits; resolves with `null` otherwise. */
  tryAcquireWrite(options?: Omit<AcquireOptions, 'waitMs' | 'retry'>): Promise<WriteHold | null> {
    return tryOnce(options, (once) => this.acquireWrite(once));
  }

  /**
   * Runs `fn` as a reader, like `Locker.withLock`: the signal aborts if the lock is lost, it is
   * released afterwards, and a loss is reported above anything `fn` did.
   */
  async withReadLock<T>(fn: HeldFunction<T, ReadWriteHold>, options?: AcquireOptions): Promise<T> {
    checkFunction(fn);
    return runHolding(await this.acquireRead(options), fn);
  }

  /** Runs `fn` as the writer, like {@link withReadLock}. */
  async withWriteLock<T>(fn: HeldFunction<T, WriteHold>, options?: AcquireOptions): Promise<T> {
    checkFunction(fn);
    return runHolding(await this.acquireWrite(options), fn);
  }

  /** Reads the lock's holders and queue without changing them. */
  async inspect(): Promise<ReadWriteState> {
    this.#context.assertOpen();
    return toState(await this.#context.backend.inspectReadWrite(this.name));
  }

  async #acquire(mode: LockMode, options: AcquireOptions | undefined): Promise<HeldReadWrite> {
    this.#context.assertOpen();
    const resolved = resolveLockOptions(this.#context.options, options);
    const signal = checkSignal(options?.signal);
    const store = this.#context.backend.readWrite(this.name, mode);
    return this.#context.acquireHeld(
      store,
      resolved,
      signal,
      (context, acquired) => new HeldReadWrite(context, acquired, store, mode),
    );
  }
}

function toState(snapshot: ReadWriteSnapshot): ReadWriteState {
  const holders = snapshot.holders.map(({ token, mode, fencingToken, remainingMs }) => ({
    token,
    mode,
    fencingToken,
    remainingMs,
  }));
  return {
    writer: holders.find((holder) => holder.mode === 'write'),
    readers: holders.filter((holder) => holder.mode === 'read'),
    waiters: snapshot.waiters,
    lastFencingToken: snapshot.lastFencingToken,
  };
}
