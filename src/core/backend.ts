/**
 * The port between the backend-neutral machinery (the acquire loop, held locks) and a backend (one
 * Redis today; Cluster, a quorum of servers and etcd later). A kind asks the backend for a
 * {@link LockStore}: one lock's storage operations, with the kind's parameters (a semaphore's limit
 * and permits, say) already bound. The loop and the held lock only ever call a store and a waker.
 */
import type { LockError } from '../errors.js';
import type { WakeSlot } from './wait-slots.js';

/** How an attempt treats the waiting queue. */
export type QueueMode =
  /** Try once; never queue (a `waitMs: 0` acquire, or one that spins with a retry strategy). */
  | 'never'
  /** Join the queue if the lock cannot be had now. */
  | 'join'
  /** Already queued by an earlier attempt: refresh the entry on failure, drop it on success. */
  | 'queued';

export interface AttemptRequest {
  /** This acquisition's random token. */
  readonly token: string;
  readonly ttlMs: number;
  readonly queue: QueueMode;
  /** Ms the caller sleeps at most before it tries again (its remaining wait, at most a renewal). */
  readonly sleepCapMs: number;
  /** Ms a queue entry stays live past the caller's planned retry. */
  readonly graceMs: number;
  /** The caller's attempt number; a grant names the attempt it followed. */
  readonly attempt: number;
  /** True when the caller tries again at the holder's expiry (it polls for its process). */
  readonly polls: boolean;
  /** Ms the queue lives after a join or refresh; no entry lives longer. */
  readonly queueLifeMs: number;
}

export type AttemptReply =
  | { readonly kind: 'acquired'; readonly fencingToken: number }
  | {
      readonly kind: 'held';
      /** Ms until the lock may be free without a release (the holder's expiry). */
      readonly pttlMs: number;
      /** The caller's queue entry had vanished and was added again, at the end of the line. */
      readonly requeued: boolean;
      /**
       * The backend's clock in µs when it queued the caller, if the backend gives it: a grant that
       * names its own time is placed on the caller's clock by it (see Grant.claim).
       */
      readonly serverTimeUs?: number;
    }
  /** The backend will never grant this request as asked (the key holds foreign data, say). */
  | { readonly kind: 'refused'; readonly error: LockError };

/** What an extension found; `pttlMs` is the lock's remaining life after it, ≥ the ttl asked for. */
export type ExtendReply =
  | { readonly kind: 'extended'; readonly pttlMs: number }
  | { readonly kind: 'missing' }
  | { readonly kind: 'other-token' };

/** Outcome of a release, from the releasing token's point of view. */
export type ReleaseReply = 'handed-over' | 'released' | 'missing' | 'other-token';

/** The kinds of lock, as diagnostics events name them. */
export type LockKind = 'mutex' | 'reentrant' | 'semaphore' | 'read-write' | 'election';

/** What a read-write lock's holder may do: share with other readers, or exclude everyone. */
export type LockMode = 'read' | 'write';

/** One lock's storage operations on a backend, for one kind. */
export interface LockStore {
  readonly kind: LockKind;
  /** The lock's name, as the caller gave it. */
  readonly name: string;
  /** Groups this lock's waiters in the process (see WaitSlots). */
  readonly waitKey: string;
  attempt(request: AttemptRequest): Promise<AttemptReply>;
  /** Pushes the expiry of `token`'s hold to at least `ttlMs` from now; never shortens it. */
  extend(token: string, ttlMs: number): Promise<ExtendReply>;
  /**
   * Optional: calls `onLost` as soon as the backend learns that `token` no longer holds the lock
   * (its key deleted, overwritten, evicted), until the returned function is called. Without it a
   * loss shows at the next extension.
   */
  watchLoss?(token: string, onLost: (reason: 'expired' | 'taken') => void): () => void;
  /** Releases `token`'s hold, handing it on; a run resent within `timeoutMs` says released again. */
  release(token: string, timeoutMs: number): Promise<ReleaseReply>;
  /**
   * Gives back in the background whatever `token` may hold or queue: its last command's outcome is
   * unknown, or it gave up waiting. `lastCommand` settles when that command does (it may still run);
   * `mattersForMs` is how long after it the token can still hold or be granted the lock.
   */
  abandon(token: string, lastCommand: Promise<void> | undefined, mattersForMs: number): void;
}

/** A read-write lock's store: a lock store that can also turn a write hold into a read hold. */
export interface ReadWriteStore extends LockStore {
  /**
   * Makes `token`'s write hold a read hold in one step, keeping its fencing token and expiry; the
   * readers queued next come in at once. `missing` when the token holds nothing any more.
   */
  downgrade(token: string): Promise<'downgraded' | 'missing'>;
}

/** An election's store: a mutex whose holder, the leader, also says what it leads with. */
export interface ElectionStore extends LockStore {
  /** Sets the leader's value and tells observers; `missing` when the token leads no more. */
  proclaim(token: string, fencingToken: number, value: string): Promise<'proclaimed' | 'missing'>;
}

/** The leader, as a backend reads it. */
export interface LeaderSnapshot {
  readonly token: string;
  /** The leader's fencing token: its term, larger for every new leader. */
  readonly fencingToken: number;
  readonly remainingMs: number;
  readonly value: string;
}

/** Delivers grants to waiting acquires. */
export interface Waker {
  /**
   * True when grants for the lock waited on under `waitKey` can reach this process's waiters now
   * (`ready(waitKey)` would resolve true).
   */
  isReadyFor(waitKey: string): boolean;
  /**
   * Resolves true once grants for the lock waited on under `waitKey` can reach this process's
   * waiters; false if they cannot now.
   */
  ready(waitKey: string): Promise<boolean>;
  register(token: string, waitKey: string): WakeSlot;
}

/** What the acquire loop needs of a backend besides one lock's store. */
export interface BackendSession {
  readonly waker: Waker;
  /** The per-command time budget, which a release spreads over its steps. */
  readonly commandTimeoutMs: number;
  /** Checks the server once; rejects with a permanent error if it can never work. */
  checkServer(): Promise<void>;
  /**
   * True when a grant's message is not enough to hold the lock: the waiter takes a granted lock by
   * an attempt of its own (which the backend confirms, e.g. waits for replicas).
   */
  readonly grantsByAttempt?: boolean;
}

/** What a backend reads about a mutex, without changing it. */
export interface MutexSnapshot {
  /** The holder's token (or that of a waiter the lock was just granted to), or null when free. */
  readonly value: string | null;
  /** Remaining ms of the lock, or a negative number when free. */
  readonly pttlMs: number;
  /** The last fencing token issued for this name, or 0 if none yet. */
  readonly lastFencingToken: number;
  readonly queued: number;
}

/** What a backend reads about a semaphore, without changing it. */
export interface SemaphoreSnapshot {
  /** The limit its holders and waiters use, or null when nobody holds or waits. */
  readonly limit: number | null;
  readonly lastFencingToken: number;
  readonly waiters: number;
  /** Live holders, each with its own expiry. */
  readonly holders: readonly {
    readonly token: string;
    readonly remainingMs: number;
    readonly permits: number;
    readonly fencingToken: number;
  }[];
}

/** What a backend reads about a reentrant lock, without changing it. */
export interface ReentrantSnapshot {
  readonly lastFencingToken: number;
  readonly waiters: number;
  /** The owner holding the lock, how many of its acquisitions hold it, and until when. */
  readonly holder:
    | {
        readonly owner: string;
        readonly remainingMs: number;
        readonly holdCount: number;
        readonly fencingToken: number;
      }
    | undefined;
}

/** What a backend reads about a read-write lock, without changing it. */
export interface ReadWriteSnapshot {
  readonly lastFencingToken: number;
  readonly waiters: number;
  /** Live holders: one writer, or any number of readers, each with its own expiry. */
  readonly holders: readonly {
    readonly token: string;
    readonly mode: LockMode;
    readonly remainingMs: number;
    readonly fencingToken: number;
  }[];
}

/** A backend as the locker and the kinds see it: a store per kind, inspection, close. */
export interface LockBackend extends BackendSession {
  mutex(name: string): LockStore;
  /** A semaphore's store for a caller that wants `permits` of `limit`. */
  semaphore(name: string, limit: number, permits: number): LockStore;
  /** A reentrant lock's store for acquisitions of `owner`, who share the lock. */
  reentrant(name: string, owner: string): LockStore;
  /** A read-write lock's store for a caller that wants to read or to write. */
  readWrite(name: string, mode: LockMode): ReadWriteStore;
  inspectMutex(name: string): Promise<MutexSnapshot>;
  /**
   * Calls `onChange` each time the mutex's holder may have changed (the backend pushes it), until
   * the returned function is called. Without push from the backend it never calls.
   */
  watchMutex(name: string, onChange: () => void): () => void;
  /**
   * Releases the mutex for `token`, whoever holds it, as its holder's release would (handing it
   * to the next waiter); nothing changes if `token` no longer holds it.
   */
  forceReleaseMutex(name: string, token: string): Promise<ReleaseReply>;
  inspectSemaphore(name: string): Promise<SemaphoreSnapshot>;
  inspectReadWrite(name: string): Promise<ReadWriteSnapshot>;
  inspectReentrant(name: string): Promise<ReentrantSnapshot>;
  /** An election's store: campaigning is acquiring it. */
  election(name: string): ElectionStore;
  /** The leader that has proclaimed its value, if any. */
  inspectElection(name: string): Promise<LeaderSnapshot | undefined>;
  /**
   * Calls `onChange` each time the election may have changed (a leader proclaimed or resigned)
   * and after a reconnect (changes may have been missed). Resolves once listening, with the way to
   * stop.
   */
  watchElection(name: string, onChange: () => void): Promise<() => Promise<void>>;
  /** Waits for background clean-ups (after close, one last attempt each), then disconnects. */
  close(): Promise<void>;
}
