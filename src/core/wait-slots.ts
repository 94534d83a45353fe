/**
 * Waiter slots: the backend-neutral half of push wake-ups. Each waiting acquire owns a slot (its
 * mailbox) while it waits; a backend's transport delivers grants and "look again" into it. One
 * process's waiters for one lock form a group, oldest first, and only the oldest polls for the
 * group at the holder's expiry; the others sleep until woken, so polling grows with processes, not
 * with waiters.
 */
import { MAX_DURATION_MS } from '../options.js';
import { monotonicNow } from '../time.js';

/** Every waiting acquire's slot, by token, and their groups, by lock. */
export class WaitSlots {
  readonly #byToken = new Map<string, WakeSlot>();
  readonly #groups = new Map<string, WaiterGroup>();

  constructor(
    /**
     * False while no wake-up can reach the waiters of the lock under `waitKey` (no subscription):
     * then every such waiter polls.
     */
    readonly canWake: (waitKey: string) => boolean,
    /** Called when the last slot is disposed: nobody waits any more. */
    private readonly onIdle: () => void = () => {},
    /** Called when the last waiter for the lock under `waitKey` is gone. */
    private readonly onLockIdle: (waitKey: string) => void = () => {},
  ) {}

  /** True while a waiter of this process waits for the lock under `waitKey`. */
  waitsFor(waitKey: string): boolean {
    return this.#groups.has(waitKey);
  }

  /** How many waiters wait. */
  get size(): number {
    return this.#byToken.size;
  }

  /**
   * Starts listening for `token`'s wake-up while it waits for the lock whose waiters are grouped
   * under `waitKey`; call `dispose()` on the slot when done.
   */
  register(token: string, waitKey: string): WakeSlot {
    let group = this.#groups.get(waitKey);
    if (!group) {
      group = new WaiterGroup(waitKey);
      this.#groups.set(waitKey, group);
    }
    const slot = new WakeSlot(this, group, token);
    group.append(slot);
    this.#byToken.set(token, slot);
    return slot;
  }

  /** Wakes the waiter of `token`; false when no waiter waits for it. */
  wake(token: string, reason: WakeReason): boolean {
    const slot = this.#byToken.get(token);
    slot?.wake(reason);
    return slot !== undefined;
  }

  /**
   * Tells the waiter of `token` that it is next in line behind a grant that lapses in `claimMs`
   * unless claimed; false when no waiter waits for it.
   */
  nextInLine(token: string, claimMs: number): boolean {
    const slot = this.#byToken.get(token);
    slot?.lookAgainIn(claimMs);
    return slot !== undefined;
  }

  /** Wakes every waiter, e.g. after wake-ups may have been missed. */
  wakeAll(reason: WakeReason): void {
    for (const slot of this.#byToken.values()) slot.wake(reason);
  }

  /** Drops a disposed slot, and its group once empty. */
  forget(slot: WakeSlot, group: WaiterGroup): void {
    this.#byToken.delete(slot.token);
    if (group.first === undefined && this.#groups.delete(group.waitKey)) {
      this.onLockIdle(group.waitKey);
    }
    if (this.#byToken.size === 0) this.onIdle();
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
  /**
   * Set when the grant holds the lock for a claim window only, until the waiter extends it: the
   * window's length and the backend's clock in µs at the grant, which the waiter places on its own
   * clock by its attempt's send time and that attempt's server time. Without it the grant holds
   * the lock for the waiter's ttl from the grant.
   */
  readonly claim?: { readonly ms: number; readonly grantedAtUs: number };
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

  constructor(readonly waitKey: string) {}

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
  /** Re-arms a sleep's timer after lookAt moved; set while sleeping. */
  private rearmSleep: (() => void) | undefined;
  /**
   * Monotonic time at which this waiter looks again although nobody woke it: it is next in line
   * behind a grant that lapses then unless claimed (see lookAgainIn). Infinity when not set.
   */
  lookAt = Number.POSITIVE_INFINITY;
  /** The claim window of the grant ahead, while lookAt is set. */
  claimWindowMs = 0;

  /** Neighbours in the group, older and younger. */
  previous: WakeSlot | undefined;
  next: WakeSlot | undefined;
  private disposed = false;

  constructor(
    private readonly slots: WaitSlots,
    private readonly group: WaiterGroup,
    readonly token: string,
  ) {}

  /**
   * True when this waiter should look again at the holder's expiry: it is its process's oldest
   * waiter for the lock, or no wake-up can reach it (no subscription).
   */
  polls(): boolean {
    return !this.slots.canWake(this.group.waitKey) || this.group.first === this;
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

  /**
   * The grant ahead of this waiter lapses in `claimMs` unless its waiter claims it: look again
   * then, so a waiter that cannot claim (its process stopped) holds up the line only that long.
   */
  lookAgainIn(claimMs: number): void {
    // +1 so the grant has surely lapsed when the attempt goes out.
    this.lookAt = Math.min(this.lookAt, monotonicNow() + claimMs + 1);
    this.claimWindowMs = claimMs;
    this.rearmSleep?.();
  }

  /**
   * After an attempt made at lookAt found the lock held for `pttlMs`: a lock that lapses within the
   * claim window may still be the unclaimed grant, so look again at its expiry; a longer one was
   * claimed, and the waiter sleeps as any other until granted.
   */
  lookedAgain(pttlMs: number): void {
    this.lookAt =
      pttlMs <= this.claimWindowMs ? monotonicNow() + pttlMs + 1 : Number.POSITIVE_INFINITY;
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
    this.slots.forget(this, this.group);
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
    const until = monotonicNow() + ms;
    try {
      await new Promise<void>((resolve, reject) => {
        this.resolveSleep = resolve;
        const arm = () => {
          clearTimeout(timer);
          const end = Math.min(until, this.lookAt) - monotonicNow();
          timer = setTimeout(resolve, Math.max(0, Math.min(end, MAX_DURATION_MS)));
        };
        this.rearmSleep = arm;
        arm();
        if (signal) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      });
    } finally {
      this.resolveSleep = undefined;
      this.rearmSleep = undefined;
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
