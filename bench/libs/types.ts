/**
 * The one interface every benchmarked library is driven through, so each scenario runs the same
 * code for all of them. An adapter module per library (this folder) maps the library's own API
 * onto it, with the library's documented default waiting settings.
 */

export interface HeldLock {
  /** The library's fencing token, when it has one. */
  readonly fencingToken: number | undefined;
  release(): Promise<void>;
}

export interface LockClient {
  /**
   * Acquires `key` for `ttlMs`, waiting as the library waits by default. Resolves with `null` when
   * the library gives up (its retry budget or acquire timeout ran out), and rejects with
   * `signal.reason` when the library supports cancellation and `signal` aborts. Scenarios that
   * never cancel pass no signal, so libraries run their plain path.
   */
  acquire(key: string, ttlMs: number, signal?: AbortSignal): Promise<HeldLock | null>;
  /**
   * For libraries with a counting semaphore: takes one of `limit` permits of `key`, waiting as the
   * library's semaphore waits by default; `null` and rejection as for `acquire`.
   */
  acquirePermit?(
    key: string,
    limit: number,
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<HeldLock | null>;
  /**
   * For libraries with a read-write lock: takes `key` as a reader, beside other readers, waiting as
   * the library's read-write lock waits by default; `null` and rejection as for `acquire`.
   */
  acquireRead?(key: string, ttlMs: number, signal?: AbortSignal): Promise<HeldLock | null>;
  /** The same as the only holder of `key` (the writer). */
  acquireWrite?(key: string, ttlMs: number, signal?: AbortSignal): Promise<HeldLock | null>;
  /**
   * For libraries with a reentrant lock: takes `key` for this client's owner, then enters it a
   * second time (the owner holds it: no wait); the hold's `release` leaves both.
   */
  acquireReentrant?(key: string, ttlMs: number, signal?: AbortSignal): Promise<HeldLock | null>;
  /** For libraries with leader election: campaigns on `key` until leader; `release` resigns. */
  campaign?(key: string, ttlMs: number, signal?: AbortSignal): Promise<HeldLock | null>;
  /** For libraries that lock several keys at once, all or none: takes every key of `keys`. */
  acquireMany?(
    keys: readonly string[],
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<HeldLock | null>;
  /** For libraries with a reentrant lock: what scenario 8 times (what re-entry costs). */
  readonly reentrant?: ReentrantDriver;
  /** One PING on the connection the library's commands use. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The reentrant lock's ways in, one at a time, for scenario 8. */
export interface ReentrantDriver {
  /** Takes `key` for `owner` (joining the owner's hold if it has one), then releases it. */
  ownerPair(key: string, owner: string, ttlMs: number): Promise<void>;
  /** Takes `key` for `owner` and keeps it: resolves with what releases it. */
  holdAsOwner(key: string, owner: string, ttlMs: number): Promise<() => Promise<void>>;
  /**
   * Enters the lock's `withLock` on `key` and stays inside until `leave`; `nestedPair` acquires
   * and releases `key` in that hold's async context, where the acquisition joins the hold.
   */
  enterWithLock(key: string, ttlMs: number): Promise<NestedHold>;
}

/** A `withLock` of a reentrant lock kept open across tasks (scenario 8). */
export interface NestedHold {
  nestedPair(): Promise<void>;
  leave(): Promise<void>;
}

export interface LockLibrary {
  /** Short identifier used on the command line, in the JSON file and in charts. */
  readonly id: string;
  /** Package and version as installed, e.g. `redlock@4.2.0`. */
  readonly label: string;
  /** How its waiters wait with its defaults, in a few words, for the report. */
  readonly waiting: string;
  open(url: string): Promise<LockClient>;
  /**
   * For libraries that run on a Redis Cluster: opens a client in the client library's cluster
   * mode, started from the seed node in `url` (`redis-cluster://host:port`).
   */
  openCluster?(url: string): Promise<LockClient>;
}
