/**
 * Names of every Redis key and channel latchkey uses. All keys of one lock share the hash tag
 * `{name}`, so multi-key scripts stay in one Redis Cluster slot.
 */

/** What every kind's keys have: the main key, named in errors about what a key holds. */
export interface LockKeys {
  readonly lock: string;
}

export interface MutexKeys extends LockKeys {
  /** The lock itself: the holder's token (or a just-granted waiter's), with a PX expiry. */
  readonly lock: string;
  /** The last fencing token, kept a minute after each acquisition (scripts/lua/include/fence.lua). */
  readonly fence: string;
  /** Waiting tokens in arrival order (zset). */
  readonly queue: string;
  /** Per waiter: how long its queue entry stays live, its handoff window and its wake channel (hash). */
  readonly waiters: string;
}

/**
 * Hash tags cover the text between the first `{` and the next `}`. The name is written inside the
 * tag with `%`, `{` and `}` percent-encoded, so the tag is never empty or cut short and two names
 * never share keys; the prefix may not contain braces (checked by the options).
 */
export function mutexKeys(prefix: string, name: string): MutexKeys {
  const base = `${prefix}{${encodeTag(name)}}`;
  return {
    lock: base,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
  };
}

/** The keys of one counting semaphore; `:sem` keeps them apart from a mutex of the same name. */
export interface SemaphoreKeys extends LockKeys {
  /** Holders: token -> expiry in server ms (zset). */
  readonly lock: string;
  /** Per holder: "<permits> <fencing token>" (hash). */
  readonly permits: string;
  /** The limit the name is in use with, while anyone holds or waits (string). */
  readonly limit: string;
  /** The last fencing token (see MutexKeys.fence). */
  readonly fence: string;
  /** Waiting tokens in arrival order (zset). */
  readonly queue: string;
  /** Per waiter: "<live-until ms> <ttl ms> <attempt> <permits> <wake channel>" (hash). */
  readonly waiters: string;
}

export function semaphoreKeys(prefix: string, name: string): SemaphoreKeys {
  return countedKeys(`${prefix}{${encodeTag(name)}}:sem`);
}

/**
 * The keys of one read-write lock: a semaphore's (a writer takes every permit, a reader one), under
 * `:rw`, apart from a semaphore or a mutex of the same name.
 */
export function readWriteKeys(prefix: string, name: string): SemaphoreKeys {
  return countedKeys(`${prefix}{${encodeTag(name)}}:rw`);
}

function countedKeys(base: string): SemaphoreKeys {
  return {
    lock: base,
    permits: `${base}:permits`,
    limit: `${base}:limit`,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
  };
}

/** The keys of one reentrant lock; `:re` keeps them apart from the other kinds of the same name. */
export interface ReentrantKeys extends LockKeys {
  /** The holding owner -> expiry in server ms (zset, one member at most). */
  readonly lock: string;
  /** The holding owner -> "1 <fencing token>" (hash). */
  readonly permits: string;
  /** The last fencing token (see MutexKeys.fence). */
  readonly fence: string;
  /** Waiting acquisition tokens in arrival order (zset). */
  readonly queue: string;
  /** Per waiter: "<live-until ms> <ttl ms> <attempt> 1 <wake channel>" (hash). */
  readonly waiters: string;
  /** The holding owner's acquisitions: token -> owner (hash); its length is the hold count. */
  readonly entries: string;
  /** Per waiter: token -> owner (hash). */
  readonly owners: string;
}

export function reentrantKeys(prefix: string, name: string): ReentrantKeys {
  const base = `${prefix}{${encodeTag(name)}}:re`;
  return {
    lock: base,
    permits: `${base}:permits`,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
    entries: `${base}:entries`,
    owners: `${base}:owners`,
  };
}

/**
 * The keys of one election: a mutex's (the lock key holds the leader's token) under `:el`, the
 * leader's value, and the channel observers hear changes on.
 */
export interface ElectionKeys extends MutexKeys {
  /** "<token> <fencing token> <value>" of the leader that proclaimed, with the lock's expiry. */
  readonly value: string;
  /** Pub/sub channel: a message each time the leader or its value changes. */
  readonly changes: string;
}

export function electionKeys(prefix: string, name: string): ElectionKeys {
  const base = `${prefix}{${encodeTag(name)}}:el`;
  return {
    lock: base,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    waiters: `${base}:waiters`,
    value: `${base}:value`,
    changes: `${base}:changes`,
  };
}

/**
 * Where a release of `token` that released leaves its tombstone for a short while (see
 * mutex-release.lua). Built on the lock key, so it carries the lock's hash tag.
 */
export function releaseTombstoneKey(keys: LockKeys, token: string): string {
  return `${keys.lock}:released:${token}`;
}

/**
 * The keys of recently used names, so a busy lock does not rebuild its key strings on every call.
 * Bounded: past `capacity` names the oldest entry goes.
 */
export class KeyCache<Keys extends LockKeys> {
  readonly #byName = new Map<string, Keys>();

  constructor(
    private readonly prefix: string,
    private readonly keysOf: (prefix: string, name: string) => Keys,
    private readonly capacity = 1_024,
  ) {}

  get(name: string): Keys {
    let keys = this.#byName.get(name);
    if (!keys) {
      keys = this.keysOf(this.prefix, name);
      if (this.#byName.size >= this.capacity) {
        const oldest = this.#byName.keys().next().value;
        if (oldest !== undefined) this.#byName.delete(oldest);
      }
      this.#byName.set(name, keys);
    }
    return keys;
  }
}

function encodeTag(name: string): string {
  return name.replace(/[%{}]/g, (character) =>
    character === '%' ? '%25' : character === '{' ? '%7B' : '%7D',
  );
}

/**
 * The channel on which one locker hears that a lock was handed to one of its waiters. Channels are
 * not touched by client key prefixes, so they carry latchkey's own prefix.
 */
export function wakeChannel(lockerId: string): string {
  return `latchkey:wake:${lockerId}`;
}
