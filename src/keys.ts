/**
 * Names of every Redis key and channel latchkey uses. All keys of one lock share the hash tag
 * `{name}`, so multi-key scripts stay in one Redis Cluster slot.
 */

export interface MutexKeys {
  /** The lock itself: the holder's token (or a reservation for a woken waiter), with a PX expiry. */
  readonly lock: string;
  /** Fencing counter, no expiry: survives the lock key so tokens keep growing. */
  readonly fence: string;
  /** Waiting tokens in arrival order (zset). */
  readonly queue: string;
  /** Per waiter: how long its queue entry stays live, its handoff window and its wake channel (hash). */
  readonly waiters: string;
}

/**
 * Hash tags cover the text between the first `{` and the next `}`; a name containing braces
 * still gives every key of the lock the same tag, because all keys start with `prefix{name`.
 */
export function mutexKeys(prefix: string, name: string): MutexKeys {
  const base = `${prefix}{${name}}`;
  return {
    lock: base,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
  };
}

/**
 * The channel on which one locker hears that a lock was handed to one of its waiters. Channels are
 * not touched by client key prefixes, so they carry latchkey's own prefix.
 */
export function wakeChannel(lockerId: string): string {
  return `latchkey:wake:${lockerId}`;
}
