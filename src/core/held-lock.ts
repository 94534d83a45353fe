/**
 * A held lock: its identity, its validity on the monotonic clock, a `signal` that aborts the moment
 * the lock is known lost, manual `extend`, idempotent `release`, and `await using` support.
 */
import { type ExtendTrigger, type HoldEvent, observed, publish } from '../diagnostics.js';
import {
  InvalidArgumentError,
  LockBackendError,
  type LockLossReason,
  LockLostError,
  LockNotHeldError,
} from '../errors.js';
import { driftMsFor, MAX_DURATION_MS, MIN_TTL_MS, type ResolvedLockOptions } from '../options.js';
import { monotonicNow, withTimeout } from '../time.js';
import { AutoRefresh } from './auto-refresh.js';
import type { LockStore, ReleaseReply } from './backend.js';
import { pendingCommand } from './failures.js';

/** What `release()` found. Only `'released'` means this handle still held the lock. */
export type ReleaseOutcome =
  /** The lock was held by this handle and is now free (or handed to the next waiter). */
  | 'released'
  /** The lock had expired, or its key was deleted, before the release reached Redis. */
  | 'expired'
  /** Someone else holds the lock now; nothing was deleted. */
  | 'taken';

/** What a release found. */
export interface ReleaseResult {
  readonly outcome: ReleaseOutcome;
  /** True when this handle still held the lock until the release. */
  readonly released: boolean;
}

/** A held lock. Dispose it (`await using`) or call `release()`. */
export interface Lock extends AsyncDisposable {
  /** The lock's name, as passed to `acquire`. */
  readonly name: string;
  /** Random token unique to this acquisition; the lock key holds it while the lock is ours. */
  readonly token: string;
  /**
   * Fencing token: strictly increases per lock name across all clients, also across expiry of the
   * lock key. Pass it to storage that should reject writes from a stale holder.
   */
  readonly fencingToken: number;
  /** Aborts with a `LockLostError` the moment the lock is known lost. Not aborted by `release()`. */
  readonly signal: AbortSignal;
  /** Ms of validity left, on the monotonic clock; 0 once expired, lost or released. */
  readonly remainingMs: number;
  /** True while the lock is held: not released, not lost, validity left. */
  readonly isHeld: boolean;
  /**
   * Pushes the expiry to at least `ttlMs` (default: the acquire's ttl) from now; it never shortens
   * it, so `extend(200)` on a lock with 9 s left leaves it 9 s. `remainingMs` then counts from the
   * expiry Redis reports, never from more. Rejects with `LockNotHeldError` if the lock is no longer
   * held (the signal then aborts if it had not yet), and with `LockBackendError` if Redis did not
   * answer (the lock stays held until its deadline).
   */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Releases the lock, waiting for an in-flight extension first. Runs even when the caller's
   * signal is aborted, bounded by the locker's `commandTimeoutMs`. Calling it again returns the
   * first call's result.
   */
  release(): Promise<ReleaseResult>;
}

export interface HeldLockContext {
  readonly store: LockStore;
  /** The budget of a release, waiting for in-flight extensions included. */
  readonly commandTimeoutMs: number;
  readonly options: ResolvedLockOptions;
  /** The locker's `driftFactor`: validity from an extension's reply is its PTTL less drift. */
  readonly driftFactor: number;
  /** Called once when the handle is released or lost, so the locker stops tracking it. */
  readonly onSettled: (handle: HeldLock) => void;
}

export class HeldLock implements Lock {
  readonly #context: HeldLockContext;
  // Made on first use: an AbortSignal costs more to create than the rest of a handle, and most
  // locks never look at theirs.
  #controller: AbortController | undefined;
  /** Set once when the lock is known lost; what `signal` aborts with. */
  #lostWith: LockLostError | undefined;
  readonly #acquiredAt: number;
  readonly #refresh: AutoRefresh | undefined;
  #validUntil: number;
  /** The longest expiry asked of Redis or reported by it: how long the key can outlive a command. */
  #longestTtlMs: number;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #expiryReason: LockLossReason = 'expired';
  /** Extensions sent and not yet answered; release waits for them, within its own budget. */
  #extensions: Set<Promise<void>> | undefined;
  #release: Promise<ReleaseResult> | undefined;
  /** Stops the backend's watch for a loss, started when the signal is first read. */
  #unwatch: (() => void) | undefined;
  /** Without auto-refresh: the one extension that claims a granted lock (see claimWithin). */
  #claimTimer: NodeJS.Timeout | undefined;

  constructor(
    context: HeldLockContext,
    readonly name: string,
    readonly token: string,
    readonly fencingToken: number,
    /** Monotonic time until which the lock is surely held (drift already taken off). */
    validUntil: number,
  ) {
    this.#context = context;
    this.#acquiredAt = monotonicNow();
    this.#validUntil = validUntil;
    this.#longestTtlMs = context.options.ttlMs;
    this.#armDeadline();
    if (context.options.autoRefresh) {
      this.#refresh = new AutoRefresh(this, context.options, this.#acquiredAt);
    }
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#lostWith) this.#controller.abort(this.#lostWith);
      // Someone listens for the loss: have the backend report it the moment it knows.
      else if (!this.#release) {
        this.#unwatch = this.#context.store.watchLoss?.(this.token, (reason) => this.#lose(reason));
      }
    }
    return this.#controller.signal;
  }

  get remainingMs(): number {
    if (!this.isHeld) return 0;
    // Whole ms, as every duration latchkey reports; rounded down, never promising more.
    return Math.max(0, Math.floor(this.#validUntil - monotonicNow()));
  }

  get isHeld(): boolean {
    return !this.#release && !this.#lostWith && monotonicNow() < this.#validUntil;
  }

  extend(ttlMs: number = this.#context.options.ttlMs): Promise<void> {
    return this.#extend(ttlMs, 'caller');
  }

  /** The watchdog's extension: the same as `extend`, told apart in the diagnostics events. */
  refresh(ttlMs: number): Promise<void> {
    return this.#extend(ttlMs, 'auto-refresh');
  }

  #extend(ttlMs: number, by: ExtendTrigger): Promise<void> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_DURATION_MS) {
      return Promise.reject(
        new InvalidArgumentError(
          'ttlMs',
          `must be an integer number of milliseconds between ${MIN_TTL_MS} and ${MAX_DURATION_MS} (got ${ttlMs})`,
        ),
      );
    }
    // Whether the lock was released is decided when extend is called: an extension requested
    // before release() still runs, and release() waits for it.
    if (this.#release) return Promise.reject(new LockNotHeldError(this.name, 'it was released'));
    // Extensions may overlap: each moves the deadline only forward (see #extendNow), so a slow
    // reply can never shorten a newer one, and no extension waits behind another.
    this.#longestTtlMs = Math.max(this.#longestTtlMs, ttlMs);
    return this.#track(this.#extendObserved(ttlMs, by));
  }

  /**
   * Runs a kind's change to the hold (a read-write lock's downgrade) the way an extension runs:
   * refused once released, checked against the validity before and after, waited for by
   * release(), and the lock reported lost when the backend finds the hold gone.
   */
  protected changeHold(change: () => Promise<'changed' | 'missing'>): Promise<void> {
    if (this.#release) return Promise.reject(new LockNotHeldError(this.name, 'it was released'));
    return this.#track(this.#changeNow(change));
  }

  async #changeNow(change: () => Promise<'changed' | 'missing'>): Promise<void> {
    this.#assertValid();
    if ((await change()) === 'missing') {
      this.#lose('expired');
      throw new LockNotHeldError(this.name, 'its key is gone');
    }
    this.#assertValid();
  }

  /** Remembers an extension or change in flight until it settles, so release() can wait for it. */
  #track(operation: Promise<void>): Promise<void> {
    this.#extensions ??= new Set();
    const extensions = this.#extensions;
    extensions.add(operation);
    operation.finally(() => extensions.delete(operation)).catch(() => {});
    return operation;
  }

  async #extendObserved(ttlMs: number, by: ExtendTrigger): Promise<void> {
    try {
      await this.#extendNow(ttlMs);
    } catch (error) {
      if (observed('extendFailed')) publish('extendFailed', { ...this.#identity(), by, error });
      throw error;
    }
    if (observed('extend')) {
      publish('extend', { ...this.#identity(), by, ttlMs, remainingMs: this.remainingMs });
    }
  }

  /** What every diagnostics event about this hold names. */
  #identity(): HoldEvent {
    const { kind } = this.#context.store;
    return { kind, name: this.name, token: this.token, fencingToken: this.fencingToken };
  }

  /** Whole ms since the lock was acquired, for the events that end a hold. */
  #heldMs(): number {
    return Math.round(monotonicNow() - this.#acquiredAt);
  }

  async #extendNow(ttlMs: number): Promise<void> {
    this.#assertValid();
    const sentAt = monotonicNow();
    const reply = await this.#context.store.extend(this.token, ttlMs);
    if (reply.kind !== 'extended') {
      // The same words as release() uses for what it finds: a key that is gone expired (or was
      // deleted, flushed or evicted); another token in it means someone else took the lock.
      this.#lose(reply.kind === 'missing' ? 'expired' : 'taken');
      throw new LockNotHeldError(
        this.name,
        reply.kind === 'missing' ? 'its key is gone' : 'another token holds it',
      );
    }
    // A reply that arrives after the local deadline cannot revive the lock: it was already lost.
    this.#assertValid();
    // The expiry Redis reports, not the ttl asked for: the script never shortens the key, so after
    // a shorter extension the key lives longer than ttlMs, and after a longer one by another
    // caller it may too. Counting from the send time believes no more than the server has.
    const { pttlMs } = reply;
    this.#longestTtlMs = Math.max(this.#longestTtlMs, pttlMs);
    this.#validUntil = Math.max(
      this.#validUntil,
      sentAt + pttlMs - driftMsFor(pttlMs, this.#context.driftFactor),
    );
    // A reply that comes after release() started must not re-arm the timers release() stopped.
    if (!this.#release) this.#armDeadline();
  }

  /** Throws LockNotHeldError if the lock was lost or its validity ran out (reporting the loss). */
  #assertValid(): void {
    const lost = this.#lostWith;
    if (lost) {
      throw new LockNotHeldError(this.name, `it was lost (${lost.reason})`, { cause: lost });
    }
    if (monotonicNow() >= this.#validUntil) {
      this.#lose(this.#expiryReason);
      throw new LockNotHeldError(this.name, 'its validity ran out');
    }
  }

  /**
   * Extends the lock within `delayMs`: a granted lock, valid only for its grant's claim window (or
   * from an old attempt), is claimed for its ttl this way. Not at once: a holder that releases
   * sooner needs no claim, and one that is stopped before then loses the lock at the window's end.
   */
  claimWithin(delayMs: number): void {
    if (this.#release || this.#lostWith) return;
    if (this.#refresh) {
      this.#refresh.refreshWithin(delayMs);
      return;
    }
    clearTimeout(this.#claimTimer);
    this.#claimTimer = setTimeout(() => {
      this.#extend(this.#context.options.ttlMs, 'claim').catch(() => {});
    }, delayMs);
    this.#claimTimer.unref();
  }

  /** Lets auto-refresh end the hold at `maxHoldMs`: the lock is reported lost when it expires. */
  stopExtending(reason: LockLossReason): void {
    this.#expiryReason = reason;
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const delay = Math.max(0, Math.ceil(this.#validUntil - monotonicNow()));
    this.#deadlineTimer = setTimeout(() => {
      // A late timer is re-armed rather than trusted; a timer that fired early is re-armed too.
      if (monotonicNow() >= this.#validUntil) this.#lose(this.#expiryReason);
      else this.#armDeadline();
    }, delay);
    this.#deadlineTimer.unref();
  }

  /**
   * Reports the lock lost now (its signal aborts) although Redis may still hold it: the locker's
   * close() does this before it releases, so work under the lock stops before another holder
   * can get it. Does nothing once the lock was released or lost.
   */
  lose(reason: LockLossReason): void {
    this.#lose(reason);
  }

  #lose(reason: LockLossReason): void {
    if (this.#lostWith || this.#release) return;
    this.#stopTimers();
    if (observed('lost')) publish('lost', { ...this.#identity(), reason, heldMs: this.#heldMs() });
    this.#lostWith = new LockLostError(this.name, reason);
    this.#controller?.abort(this.#lostWith);
    this.#context.onSettled(this);
  }

  #stopTimers(): void {
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#claimTimer);
    this.#refresh?.stop();
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  release(): Promise<ReleaseResult> {
    this.#release ??= this.#releaseOnce();
    return this.#release;
  }

  async #releaseOnce(): Promise<ReleaseResult> {
    this.#stopTimers();
    this.#context.onSettled(this);
    // One budget for the whole release, waiting for in-flight extensions included, so a stalled
    // Redis cannot make release take longer than commandTimeoutMs.
    const deadline = monotonicNow() + this.#context.commandTimeoutMs;
    if (this.#extensions && this.#extensions.size > 0) {
      await withTimeout(Promise.allSettled([...this.#extensions]), deadline - monotonicNow()).catch(
        () => {},
      );
    }
    let reply: ReleaseReply;
    try {
      reply = await this.#context.store.release(this.token, deadline - monotonicNow());
    } catch (error) {
      // Redis may still hold the key (the command failed, or timed out and may yet run): keep
      // trying in the background until it is gone or has surely expired, so others need not wait
      // out its ttl.
      this.#context.store.abandon(this.token, pendingCommand(error), this.#longestTtlMs);
      const failed =
        error instanceof LockBackendError
          ? error
          : new LockBackendError(`release of "${this.name}" failed`, { cause: error });
      // Published too, so that whoever counts holds sees this one end.
      if (observed('release')) {
        publish('release', {
          ...this.#identity(),
          outcome: 'error',
          heldMs: this.#heldMs(),
          error: failed,
        });
      }
      throw failed;
    }
    const outcome: ReleaseOutcome =
      reply === 'missing' ? 'expired' : reply === 'other-token' ? 'taken' : 'released';
    if (observed('release')) {
      publish('release', { ...this.#identity(), outcome, heldMs: this.#heldMs() });
    }
    return { outcome, released: outcome === 'released' };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
