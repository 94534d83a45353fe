/**
 * Push wake-ups over Redis pub/sub. Each locker listens on one channel of its own over one
 * subscriber connection; a release that hands a lock to one of its waiters publishes that waiter's
 * token there. So a hand-over costs one PUBLISH that reaches one process, however many wait.
 * On a Redis Cluster the channel must live in the lock's slot (sharded pub/sub: SPUBLISH reaches
 * only that shard), so a locker there listens on one channel per lock it waits for, subscribed
 * before its first waiter queues and dropped a while after its last waiter left.
 *
 * Messages are an accelerator, not the source of truth: a waiter also looks again when the holder's
 * remaining PTTL runs out, so a lost message (reconnect, dead subscriber) costs time, never safety.
 * The waiters themselves live in WaitSlots (backend-neutral); this file is the transport.
 */

import type { Waker } from '../../core/backend.js';
import { IdleClose } from '../../core/idle-close.js';
import { type Grant, LOOK_AGAIN, WaitSlots, type WakeSlot } from '../../core/wait-slots.js';
import { debug, WARNING_CODES, warn } from '../../diagnostics.js';
import { withTimeout } from '../../time.js';
import type { RedisAdapter, RedisSubscriber } from './adapter.js';

/** Gets a channel's messages, and `undefined` when some may have been missed (a reconnect). */
type Listener = (message: string | undefined) => void;

/**
 * How long the subscriber connection stays open with nobody waiting or listening. Then it closes
 * (and opens again for the next wait), so a process that never calls close() still exits.
 */
export const SUBSCRIBER_IDLE_MS = 2_000;

export class PubSubWaker implements Waker {
  readonly #slots = new WaitSlots(
    (waitKey) => this.isReadyFor(waitKey),
    () => this.#closeWhenIdle(),
    (waitKey) => this.#lockIdle(waitKey),
  );
  /** Cluster only: each lock's wake channel, by wait key, while waited for (and a while after). */
  readonly #lockChannels = new Map<string, LockChannel>();
  readonly #idle = new IdleClose(
    SUBSCRIBER_IDLE_MS,
    () => this.#inUse(),
    () => this.#closeIdle(),
  );
  /** Channels other than the wake channel, with who gets their messages (election observers). */
  readonly #listeners = new Map<
    string,
    { readonly handlers: Set<Listener>; readonly subscribed: Promise<void> }
  >();
  private subscriber: RedisSubscriber | undefined;
  #warnedDenied = false;
  private subscribing: Promise<boolean> | undefined;
  private closed = false;

  constructor(
    private readonly adapter: RedisAdapter,
    /** The wake channel (on a Cluster: the start of each lock's wake channel). */
    readonly channel: string,
    private readonly timeoutMs: number,
    /**
     * Called with a grant's token when no waiter waits for it: a token this locker abandoned, whose
     * clean-up has not run yet, must give the lock back at once. Returns whether it knew the token.
     */
    private readonly onUnclaimedGrant: (token: string) => boolean = () => false,
  ) {}

  /** The channel on which this locker's waiters for the lock under `waitKey` hear grants. */
  channelFor(waitKey: string): string {
    // The wait key is the lock key, so its hash tag puts the channel in the lock's slot.
    return this.adapter.cluster ? `${this.channel}:${waitKey}` : this.channel;
  }

  isReadyFor(waitKey: string): boolean {
    if (!this.subscriber) return false;
    return !this.adapter.cluster || this.#lockChannels.get(waitKey)?.subscribed === true;
  }

  /**
   * Subscribes on first use. Resolves true once messages for the lock under `waitKey` can arrive,
   * false if subscribing failed (the waiter then relies on its PTTL timer; the next waiter tries
   * to subscribe again).
   */
  ready(waitKey?: string): Promise<boolean> {
    if (!this.adapter.cluster || waitKey === undefined) return this.#connect();
    if (this.isReadyFor(waitKey)) return Promise.resolve(true);
    let entry = this.#lockChannels.get(waitKey);
    if (!entry) {
      entry = { subscribed: false, subscribing: undefined, idle: undefined, retries: 0 };
      this.#lockChannels.set(waitKey, entry);
    }
    const subscribing = entry;
    clearTimeout(subscribing.idle);
    subscribing.idle = undefined;
    subscribing.subscribing ??= this.#subscribeLock(waitKey, subscribing).finally(() => {
      subscribing.subscribing = undefined;
    });
    return subscribing.subscribing;
  }

  async #subscribeLock(waitKey: string, entry: LockChannel): Promise<boolean> {
    if (!(await this.#connect()) || !this.subscriber) return false;
    const channel = this.channelFor(waitKey);
    try {
      await withTimeout(
        this.subscriber.subscribe(channel, (message) => this.deliver(message)),
        this.timeoutMs,
      );
    } catch (error) {
      debug('subscribe to %s failed: %o', channel, error);
      this.#warnIfDenied(channel, error);
      this.#retrySubscribe(waitKey, entry);
      return false;
    }
    if (this.#lockChannels.get(waitKey) !== entry) return false;
    entry.subscribed = true;
    if (entry.retries > 0) {
      // Its waiters fell back to polling at the holder's expiry: a grant can reach them now.
      entry.retries = 0;
      this.#slots.wakeAll(LOOK_AGAIN);
    }
    // Its waiters may all have gone while the subscription was on its way.
    if (!this.#slots.waitsFor(waitKey)) this.#lockIdle(waitKey);
    return true;
  }

  /**
   * Cluster only: a lock channel that could not be subscribed (a node's connection just dropped,
   * a failover) is tried again while its waiters wait, 100 ms to 1 s apart, instead of leaving
   * them to poll at the holder's expiry.
   */
  #retrySubscribe(waitKey: string, entry: LockChannel): void {
    if (this.closed) return;
    if (!this.#slots.waitsFor(waitKey)) {
      // Nobody waits for it any more: nothing of it stays behind.
      if (this.#lockChannels.get(waitKey) === entry) this.#lockChannels.delete(waitKey);
      return;
    }
    const delay = Math.min(100 * 2 ** entry.retries, 1_000);
    entry.retries++;
    setTimeout(() => {
      if (this.closed || this.#lockChannels.get(waitKey) !== entry || entry.subscribed) return;
      void this.ready(waitKey);
    }, delay).unref();
  }

  /**
   * Cluster only: the last waiter for the lock under `waitKey` left. Its channel stays subscribed
   * for SUBSCRIBER_IDLE_MS, so a lock waited for again and again does not resubscribe each time.
   */
  #lockIdle(waitKey: string): void {
    const entry = this.#lockChannels.get(waitKey);
    if (!entry) return;
    if (!entry.subscribed) {
      // Never subscribed (it failed): a retry under way, if any, drops it (see #retrySubscribe).
      if (!entry.subscribing) this.#lockChannels.delete(waitKey);
      return;
    }
    if (entry.idle) return;
    entry.idle = setTimeout(() => {
      entry.idle = undefined;
      if (this.#slots.waitsFor(waitKey) || this.#lockChannels.get(waitKey) !== entry) return;
      this.#lockChannels.delete(waitKey);
      this.subscriber
        ?.unsubscribe?.(this.channelFor(waitKey))
        .catch((error: unknown) => debug('unsubscribe failed: %o', error));
    }, SUBSCRIBER_IDLE_MS);
    entry.idle.unref();
  }

  /**
   * A subscription the user's ACL denies will not come with time; waiters still get the lock at
   * the holder's expiry, so it is a warning (once per locker), not an error.
   */
  #warnIfDenied(channel: string, error: unknown): void {
    if (this.#warnedDenied || !(error instanceof Error) || !/\bNOPERM\b/.test(error.message))
      return;
    this.#warnedDenied = true;
    warn(
      WARNING_CODES.noPush,
      `the server refused to subscribe ${channel} (${error.message}): no lock can be handed to ` +
        "this locker's waiters by push, so each waits until the holder's lock expires. Allow " +
        "latchkey's channels in the user's ACL (&<prefix>*, see the README's least-privilege rule).",
    );
  }

  /** Opens the subscriber connection (and, off a Cluster, subscribes to the wake channel). */
  #connect(): Promise<boolean> {
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
      if (!this.adapter.cluster) {
        await withTimeout(
          subscriber.subscribe(this.channel, (message) => this.deliver(message)),
          this.timeoutMs,
        );
      }
    } catch (error) {
      debug('subscribe to %s failed: %o', this.channel, error);
      this.#warnIfDenied(this.channel, error);
      await subscriber?.close().catch(() => {});
      return false;
    }
    if (this.closed) {
      await subscriber.close();
      return false;
    }
    // Hand-overs published while the connection was down are lost: every waiter looks again, and
    // every listener is told that it may have missed something.
    subscriber.onReconnect?.(() => {
      this.#slots.wakeAll(LOOK_AGAIN);
      for (const { handlers } of this.#listeners.values()) {
        for (const handler of handlers) handler(undefined);
      }
    });
    this.subscriber = subscriber;
    // The acquire that opened it may have taken its lock meanwhile, with nobody else waiting.
    this.#closeWhenIdle();
    return true;
  }

  /** Closes the subscriber once nobody has waited or listened for SUBSCRIBER_IDLE_MS. */
  #closeWhenIdle(): void {
    if (this.#inUse() || !this.subscriber) return;
    this.#idle.idle();
  }

  #inUse(): boolean {
    return this.#slots.size > 0 || this.#listeners.size > 0 || this.closed;
  }

  #closeIdle(): void {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.#forgetLockChannels();
    debug('closing the idle subscriber');
    subscriber?.close().catch((error: unknown) => debug('closing subscriber failed: %o', error));
  }

  /**
   * A grant message is "<token> <fencing token> <attempt>", with " <claim ms> <grant server µs>"
   * when the grant holds the lock only until claimed (see the release scripts); "<token> next
   * <claim ms>" tells the waiter next in line when that grant lapses unless claimed.
   */
  private deliver(message: string): void {
    const [token = '', second = '', third = '', claimMs, grantedAtUs] = message.split(' ');
    if (second === 'next') {
      const lapsesInMs = Number(third);
      if (Number.isSafeInteger(lapsesInMs)) this.#slots.nextInLine(token, lapsesInMs);
      return;
    }
    const fencingToken = Number(second);
    const afterAttempt = Number(third);
    if (!Number.isSafeInteger(fencingToken) || !Number.isSafeInteger(afterAttempt)) return;
    let grant: Grant = { fencingToken, afterAttempt };
    if (claimMs !== undefined) {
      const claim = { ms: Number(claimMs), grantedAtUs: Number(grantedAtUs) };
      if (!Number.isSafeInteger(claim.ms) || !Number.isSafeInteger(claim.grantedAtUs)) return;
      grant = { fencingToken, afterAttempt, claim };
    }
    if (this.#slots.wake(token, grant)) return;
    if (!this.onUnclaimedGrant(token)) debug('grant for unknown token %s dropped', token);
  }

  /** Cluster only: the lock channels went with the subscriber connection. */
  #forgetLockChannels(): void {
    for (const entry of this.#lockChannels.values()) clearTimeout(entry.idle);
    this.#lockChannels.clear();
  }

  register(token: string, waitKey: string): WakeSlot {
    return this.#slots.register(token, waitKey);
  }

  /**
   * Delivers `channel`'s messages to `onMessage` on the locker's subscriber connection, and
   * `undefined` after a reconnect (messages may have been missed). Listeners of one channel share
   * one subscription. Resolves with the way to stop once subscribed; rejects if the subscriber
   * cannot be had now.
   */
  async listen(channel: string, onMessage: Listener): Promise<() => Promise<void>> {
    if (!(await this.#connect()) || !this.subscriber) {
      throw new Error(`could not subscribe to ${channel}`);
    }
    const subscriber = this.subscriber;
    let entry = this.#listeners.get(channel);
    if (!entry) {
      const handlers = new Set<Listener>();
      const subscribed = withTimeout(
        subscriber.subscribe(channel, (message) => {
          for (const handler of handlers) handler(message);
        }),
        this.timeoutMs,
      );
      const created = { handlers, subscribed };
      entry = created;
      this.#listeners.set(channel, created);
      subscribed.catch(() => {
        if (this.#listeners.get(channel) === created) this.#listeners.delete(channel);
      });
    }
    const { handlers, subscribed } = entry;
    handlers.add(onMessage);
    try {
      await subscribed;
    } catch (error) {
      handlers.delete(onMessage);
      throw error;
    }
    const listening = entry;
    return async () => {
      if (!handlers.delete(onMessage) || handlers.size > 0) return;
      if (this.#listeners.get(channel) !== listening) return;
      this.#listeners.delete(channel);
      this.#closeWhenIdle();
      if (this.subscriber === subscriber) await subscriber.unsubscribe?.(channel);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.#idle.stop();
    await this.subscribing;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.#forgetLockChannels();
    await subscriber?.close();
  }
}

/** A lock's own wake channel on a Cluster. */
interface LockChannel {
  subscribed: boolean;
  subscribing: Promise<boolean> | undefined;
  /** Set while nobody waits for the lock: when it fires, the channel is unsubscribed. */
  idle: NodeJS.Timeout | undefined;
  /** Failed subscriptions in a row (see #retrySubscribe). */
  retries: number;
}
