/**
 * Observability without dependencies: events on `node:diagnostics_channel` and debug text through
 * `NODE_DEBUG=latchkey`. Subscribing costs nothing when nobody listens: every message is built only
 * after a check that someone does.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { LockKind } from './core/backend.js';
import type { ReleaseOutcome } from './core/held-lock.js';
import type { LockLossReason } from './errors.js';

/**
 * The `node:diagnostics_channel` names latchkey publishes on, each with the message it carries:
 * `diagnostics_channel.subscribe(CHANNELS.lost, (event) => …)`.
 */
export const CHANNELS = {
  /**
   * The TracingChannel around every wait for a lock (`tracingChannel(CHANNELS.wait)`): its `start`
   * and `asyncEnd` are {@link CHANNELS.waitStart} and {@link CHANNELS.waitEnd}, one
   * {@link WaitContext} object for both; `error` comes before `asyncEnd` when the wait failed.
   */
  wait: 'latchkey:lock:wait',
  /** A caller starts waiting for a lock: a {@link WaitContext} with `kind`, `name` and `waitMs`. */
  waitStart: 'tracing:latchkey:lock:wait:start',
  /**
   * The wait ended: the same {@link WaitContext} object as its start, now with `outcome`,
   * `waitedMs` and, when acquired, `token`, `fencingToken` and `result` (the handle), else `error`.
   */
  waitEnd: 'tracing:latchkey:lock:wait:asyncEnd',
  /** An {@link AcquireEvent} when a lock is acquired and handed to the caller. */
  acquire: 'latchkey:lock:acquire',
  /** An {@link ExtendEvent} when an extension (auto-refresh, a claim or `extend()`) succeeded. */
  extend: 'latchkey:lock:extend',
  /**
   * An {@link ExtendFailedEvent} when an extension failed: Redis did not answer, or the lock is
   * gone.
   */
  extendFailed: 'latchkey:lock:extend-failed',
  /** A {@link ReleaseEvent} when a release finished, or failed (`outcome: 'error'`). */
  release: 'latchkey:lock:release',
  /** A {@link LostEvent} when a held lock is known lost. */
  lost: 'latchkey:lock:lost',
  /**
   * A {@link WarningEvent} when the server is set up in a way that weakens the locks, once per
   * locker (see WARNING_CODES).
   */
  warning: 'latchkey:warning',
} as const;

/** How a wait for a lock ended. */
export type WaitOutcome =
  /** The caller got the lock. */
  | 'acquired'
  /** `waitMs` ran out (also a `tryAcquire` that found the lock held: `waitMs` 0). */
  | 'timeout'
  /** The caller's `signal` aborted. */
  | 'aborted'
  /** The locker closed. */
  | 'closed'
  /** Anything else: Redis failed, the key holds foreign data, a semaphore's limit differs… */
  | 'error';

/**
 * The context of one wait, published on {@link CHANNELS.waitStart} and, the same object completed,
 * on {@link CHANNELS.waitEnd}: a subscriber can key a `WeakMap` on it. A multi-lock waits once per
 * name, as a mutex of that name.
 */
export interface WaitContext {
  /** The kind of lock waited for. */
  readonly kind: LockKind;
  /** The lock's name, as passed to the acquire. */
  readonly name: string;
  /** The longest the caller agreed to wait, in ms (may be `Infinity`). */
  readonly waitMs: number;
  /** Set when the wait ended. */
  outcome?: WaitOutcome;
  /** Ms the caller waited, whole; set when the wait ended. */
  waitedMs?: number;
  /** The acquisition's token, when acquired. */
  token?: string;
  /** The acquisition's fencing token, when acquired. */
  fencingToken?: number;
  /** The handle the caller got (set by the TracingChannel), when acquired. */
  result?: unknown;
  /** What the acquire rejected with (set by the TracingChannel), when not acquired. */
  error?: unknown;
}

/** What every event about a held lock names: `token` is unique to one acquisition. */
export interface HoldEvent {
  /** The kind of lock held. */
  readonly kind: LockKind;
  /** The lock's name, as passed to the acquire. */
  readonly name: string;
  /** The acquisition's random token: it ties one hold's events together. */
  readonly token: string;
  /** The acquisition's fencing token. */
  readonly fencingToken: number;
}

/** The message of {@link CHANNELS.acquire}: a lock was acquired and handed to the caller. */
export interface AcquireEvent extends HoldEvent {
  /** Ms the caller waited, whole. */
  readonly waitedMs: number;
}

/** Who extended a lock: its auto-refresh, the claim of a granted lock, or a call of `extend()`. */
export type ExtendTrigger = 'auto-refresh' | 'claim' | 'caller';

/** The message of {@link CHANNELS.extend}: an extension succeeded. */
export interface ExtendEvent extends HoldEvent {
  /** Who extended the lock. */
  readonly by: ExtendTrigger;
  /** The ttl asked for, in ms. */
  readonly ttlMs: number;
  /** Ms of validity the lock has after the extension, whole. */
  readonly remainingMs: number;
}

/** The message of {@link CHANNELS.extendFailed}: an extension failed. */
export interface ExtendFailedEvent extends HoldEvent {
  /** Who tried to extend the lock. */
  readonly by: ExtendTrigger;
  /**
   * `LockNotHeldError` when the lock is gone (a `lost` event came first), else `LockBackendError`.
   */
  readonly error: unknown;
}

/** The message of {@link CHANNELS.release}: a release finished, or failed. */
export interface ReleaseEvent extends HoldEvent {
  /** What the release found (see ReleaseOutcome), or `'error'` when it failed (see `error`). */
  readonly outcome: ReleaseOutcome | 'error';
  /** Ms from the acquisition to the end of the release, whole. */
  readonly heldMs: number;
  /** Why the release failed, with outcome `'error'`; the lock then expires on its own. */
  readonly error?: unknown;
}

/** The message of {@link CHANNELS.lost}: a held lock is known lost. */
export interface LostEvent extends HoldEvent {
  /** Why the lock was lost. */
  readonly reason: LockLossReason;
  /** Ms from the acquisition to the moment the loss was known, whole. */
  readonly heldMs: number;
}

/** A server set-up that weakens the locks, reported once per locker (see WARNING_CODES). */
/** The message of {@link CHANNELS.warning}: the server is set up in a way that weakens the locks. */
export interface WarningEvent {
  /** Which problem (see {@link WARNING_CODES}). */
  readonly code: (typeof WARNING_CODES)[keyof typeof WARNING_CODES];
  /** The problem in words. */
  readonly message: string;
}

/** The message each plain channel carries. */
interface Messages {
  acquire: AcquireEvent;
  extend: ExtendEvent;
  extendFailed: ExtendFailedEvent;
  release: ReleaseEvent;
  lost: LostEvent;
  warning: WarningEvent;
}

/** The `code` of a `latchkey:warning` event. */
export const WARNING_CODES = {
  /**
   * `maxmemory-policy` is `allkeys-*`: lock keys (and the last fencing token) can be evicted. The
   * counter starts again from the server clock, so tokens stay in order; a lock key's eviction is
   * the risk, as for EVICTABLE_LOCK.
   */
  evictableFence: 'EVICTABLE_FENCE',
  /** `maxmemory-policy` is `volatile-*`: lock keys can be evicted; a holder sees it as a loss. */
  evictableLock: 'EVICTABLE_LOCK',
  /** The server check could not read `INFO` (ACL): Cluster mode and eviction were not checked. */
  unchecked: 'SERVER_UNCHECKED',
  /**
   * `appendonly` is off: a restart of Redis loses the lock keys written since its last snapshot,
   * so a second holder can get a lock its first holder still holds. Fencing tokens stay in order
   * (the counter starts again from the server clock).
   */
  notPersistent: 'NOT_PERSISTENT',
  /**
   * The server refused the subscriber's `SUBSCRIBE` (`NOPERM`: the user's ACL lacks the channel
   * pattern): nobody can hand this locker a lock by push, so its waiters take a lock only when
   * they look again at the holder's expiry. Safe, but a wait lasts up to the holder's ttl.
   */
  noPush: 'NO_PUSH_WAKEUPS',
} as const;

const channels: { readonly [E in keyof Messages]: diagnosticsChannel.Channel } = {
  acquire: diagnosticsChannel.channel(CHANNELS.acquire),
  extend: diagnosticsChannel.channel(CHANNELS.extend),
  extendFailed: diagnosticsChannel.channel(CHANNELS.extendFailed),
  release: diagnosticsChannel.channel(CHANNELS.release),
  lost: diagnosticsChannel.channel(CHANNELS.lost),
  warning: diagnosticsChannel.channel(CHANNELS.warning),
};

/** The TracingChannel of waits; see {@link CHANNELS.wait}. */
export const waitChannel = diagnosticsChannel.tracingChannel<unknown, WaitContext>(CHANNELS.wait);

/** True when someone listens to `event`; check it before building a message on a hot path. */
export function observed(event: keyof Messages): boolean {
  return channels[event].hasSubscribers;
}

export function publish<E extends keyof Messages>(event: E, message: Messages[E]): void {
  const channel = channels[event];
  if (channel.hasSubscribers) channel.publish(message);
}

export const debug = debuglog('latchkey');

/** Reports a set-up problem: as debug text and as a `latchkey:warning` event. */
export function warn(
  code: (typeof WARNING_CODES)[keyof typeof WARNING_CODES],
  message: string,
): void {
  debug('warning %s: %s', code, message);
  publish('warning', { code, message });
}
