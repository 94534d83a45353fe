/**
 * Push wake-ups for waiters. Each locker listens on one channel of its own over one subscriber
 * connection; a release that hands a lock to one of its waiters publishes that waiter's token there.
 * So a handoff costs one PUBLISH that reaches one process, however many wait.
 *
 * Messages are an accelerator, not the source of truth: a waiter also looks again when the holder's
 * remaining PTTL runs out, so a lost message (reconnect, dead subscriber) costs time, never safety.
 * Of one locker's waiters for one lock only the oldest does that (it polls for the process; the
 * others sleep until granted), so polling grows with processes, not with waiters.
 */
import type { RedisAdapter, RedisSubscriber } from '../backends/redis/adapter.js';
import { debug } from '../diagnostics.js';
import { MAX_DURATION_MS } from '../options.js';
import { monotonicNow, withTimeout } from '../time.js';

export class PubSubWaker {
  private readonly waiters = new Map<string, WakeSlot>();
  private readonly groups = new Map<string, WaiterGroup>();
  private subscriber: RedisSubscriber | undefined;
  private subscribing: Promise<boolean> | undefined;
  private closed = false;

  constructor(
    private readonly adapter: RedisAdapter,
    readonly channel: string,
    private readonly timeoutMs: number,
    /**
     * Called with a grant's token when no waiter waits for it: a token this locker abandoned, whose
     * clean-up has not run yet, must give the lock back at once. Returns whether it knew the token.
     */
    private readonly onUnclaimedGrant: (token: string) => boolean = () => false,
  ) {}

  /**
   * Subscribes on first use. Resolves true once messages can arrive, false if subscribing failed
   * (the waiter then relies on its PTTL timer; the next waiter tries to subscribe again).
   */
  ready(): Promise<boolean> {
    if (this.subscriber) return Promise.resolve(true);
    this.subscribing ??= this.subscribe().finally(() => {
      this.subscribing = undefined;
    });
    return this.subscribing;
  }

  private async subscribe(): Promise<boolean> {
    let subscriber: RedisSubscriber | undefined;
    try {
      subscriber = await withTimeout(this.adapter.createSubscriber(), this.timeoutMs);
      await withTimeout(
        subscriber.subscribe(this.channel, (message) => this.deliver(message)),
        this.timeoutMs,
      );
    } catch (error) {
      debug('subscribe to %s failed: %o', this.channel, error);
      await subscriber?.close().catch(() => {});
      return false;
    }
    if (this.closed) {
      await subscriber.close();
      return false;
    }
    // Hand-overs published while the connection was down are lost: every waiter looks again.
    subscriber.onReconnect?.(() => {
      for (const slot of this.waiters.values()) slot.wake(LOOK_AGAIN);
    });
    this.subscriber = subscriber;
    return true;
  }

  /** A grant message is "<token> <fencing token> <attempt>" (see mutex-release.lua). */
  private deliver(message: string): void {
    const [token = '', fence = '', attempt = ''] = message.split(' ');
    const fencingToken = Number(fence);
    const afterAttempt = Number(attempt);
    if (!Number.isSafeInteger(fencingToken) || !Number.isSafeInteger(afterAttempt)) return;
    const slot = this.waiters.get(token);
    if (slot) slot.wake({ fencingToken, afterAttempt });
    else if (!this.onUnclaimedGrant(token)) debug('grant for unknown token %s dropped', token);
  }

  /** True once messages can reach this locker's waiters. */
  get subscribed(): boolean {
    return this.subscriber !== undefined;
  }

  /**
   * Starts listening for `token`'s wake-up while it waits for the lock keyed `lockKey`; call
   * `dispose()` on the slot when done.
   */
  register(token: string, lockKey: string): WakeSlot {
    let group = this.groups.get(lockKey);
    if (!group) {
      group = new WaiterGroup(lockKey);
      this.groups.set(lockKey, group);
    }
    const slot = new WakeSlot(this, group, token);
    group.append(slot);
    this.waiters.set(token, slot);
    return slot;
  }

  /** Drops a disposed slot, and its group once empty. */
  forget(slot: WakeSlot, group: WaiterGroup): void {
    this.waiters.delete(slot.token);
    if (group.first === undefined) this.groups.delete(group.lockKey);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.subscribing;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await subscriber?.close();
  }
}

/**
 * Why a sleeping waiter woke: the lock was granted to it, it should simply try again, or it now
 * polls for its process and should sleep until the group's poll time instead.
 */
export type WakeReason = Grant | typeof LOOK_AGAIN | typeof TAKE_OVER_POLLING;
/** The lock was granted to this waiter after Redis ran its attempt number `afterAttempt`. */
export interface Grant {
  readonly fencingToken: number;
  readonly afterAttempt: number;
}
export const LOOK_AGAIN = 'look-again';
export const TAKE_OVER_POLLING = 'take-over-polling';

/**
 * One locker's waiters for one lock, oldest first (a linked list through the slots, so a waiter
 * costs no allocation here); the oldest polls for all of them.
 */
class WaiterGroup {
  first: WakeSlot | undefined;
  last: WakeSlot | undefined;
  /** Monotonic time at which the holder's key has surely expired, from the latest reply. */
  pollAt = 0;

  constructor(readonly lockKey: string) {}

  append(slot: WakeSlot): void {
    slot.previous = this.last;
    if (this.last) this.last.next = slot;
    else this.first = slot;
    this.last = slot;
  }

  remove(slot: WakeSlot): void {
    if (slot.previous) slot.previous.next = slot.next;
    else this.first = slot.next;
    if (slot.next) slot.next.previous = slot.previous;
    else this.last = slot.previous;
    slot.previous = undefined;
    slot.next = undefined;
  }
}

/** A grant outranks "look again", which outranks taking over the polling. */
function rank(reason: WakeReason | undefined): number {
  if (reason === undefined) return 0;
  if (reason === TAKE_OVER_POLLING) return 1;
  if (reason === LOOK_AGAIN) return 2;
  return 3;
}

/** One waiter's mailbox: remembers a wake-up that arrives while the waiter is not sleeping. */
export class WakeSlot {
  private pending: WakeReason | undefined;
  private resolveSleep: (() => void) | undefined;

  /** Neighbours in the group, older and younger. */
  previous: WakeSlot | undefined;
  next: WakeSlot | undefined;
  private disposed = false;

  constructor(
    private readonly waker: PubSubWaker,
    private readonly group: WaiterGroup,
    readonly token: string,
  ) {}

  /**
   * True when this waiter should look again at the holder's expiry: it is its process's oldest
   * waiter for the lock, or no wake-up can reach it (no subscription).
   */
  polls(): boolean {
    return !this.waker.subscribed || this.group.first === this;
  }

  /** Ms until the group's next poll is due (negative when overdue). */
  msUntilPoll(): number {
    return this.group.pollAt - monotonicNow();
  }

  /** Records a reply, received just now, saying the lock stays held `pttlMs` more. */
  heldFor(pttlMs: number): void {
    // +1 so the key has surely expired when the poll goes out.
    this.group.pollAt = monotonicNow() + pttlMs + 1;
  }

  wake(reason: WakeReason): void {
    if (rank(reason) > rank(this.pending)) this.pending = reason;
    this.resolveSleep?.();
  }

  /** Wakes this process's other waiters for the same lock. */
  wakeOthers(reason: WakeReason): void {
    for (let slot = this.group.first; slot; slot = slot.next) if (slot !== this) slot.wake(reason);
  }

  /** Stops listening; if this waiter polled for its group, the next oldest takes over. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const wasPolling = this.group.first === this;
    this.group.remove(this);
    this.waker.forget(this, this.group);
    if (wasPolling) this.group.first?.wake(TAKE_OVER_POLLING);
  }

  /**
   * Sleeps up to `ms`; returns why it was woken (now or by a wake-up that arrived earlier), or
   * undefined when the time ran out. Rejects with `signal.reason` if `signal` aborts.
   */
  async sleep(ms: number, signal: AbortSignal | undefined): Promise<WakeReason | undefined> {
    const early = this.consume();
    if (early) return early;
    signal?.throwIfAborted();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.resolveSleep = resolve;
        timer = setTimeout(resolve, Math.max(0, Math.min(ms, MAX_DURATION_MS)));
        if (signal) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      });
    } finally {
      this.resolveSleep = undefined;
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    return this.consume();
  }

  private consume(): WakeReason | undefined {
    const reason = this.pending;
    this.pending = undefined;
    return reason;
  }
}
