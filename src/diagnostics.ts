/**
 * Observability without dependencies: events on `node:diagnostics_channel` and debug text through
 * `NODE_DEBUG=latchkey`. Subscribing costs nothing when nobody listens.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

export const CHANNELS = {
  /**
   * `{ kind, name, token, fencingToken, waitedMs }` when a lock is acquired; `kind` is `'mutex'`,
   * `'reentrant'`, `'semaphore'`, `'read-write'` or `'election'`.
   */
  acquire: 'latchkey:lock:acquire',
  /** `{ kind, name, token, outcome }` when a release finished. */
  release: 'latchkey:lock:release',
  /** `{ kind, name, token, reason }` when a held lock is known lost. */
  lost: 'latchkey:lock:lost',
  /**
   * `{ code, message }` when the server is set up in a way that weakens the locks, once per locker
   * (see WARNING_CODES).
   */
  warning: 'latchkey:warning',
} as const;

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
} as const;

const channels = {
  acquire: diagnosticsChannel.channel(CHANNELS.acquire),
  release: diagnosticsChannel.channel(CHANNELS.release),
  lost: diagnosticsChannel.channel(CHANNELS.lost),
  warning: diagnosticsChannel.channel(CHANNELS.warning),
};

/** True when someone listens to `event`; check it before building a message on a hot path. */
export function observed(event: keyof typeof CHANNELS): boolean {
  return channels[event].hasSubscribers;
}

export function publish(event: keyof typeof CHANNELS, message: object): void {
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
