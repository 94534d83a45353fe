/**
 * The records a fault run leaves behind, shared by the processes that write them and the checker
 * that reads them. Every time is in ms on the run's common timebase (see clock.ts).
 */

/** How the resource server treats fencing tokens. */
export type ResourceMode = 'fenced' | 'unfenced';

/** A call from a worker's critical section to the shared resource. */
export type ResourceOp = 'enter' | 'write' | 'exit';

export interface ResourceRequest {
  readonly id: number;
  readonly op: ResourceOp;
  readonly resource: string;
  readonly worker: string;
  readonly attempt: string;
  readonly fence: number;
  /** For `write`: the value read at `enter`; the write stores base + 1. */
  readonly base?: number;
  /** Worker time at which the call was sent. */
  readonly sentAt: number;
}

export interface ResourceReply {
  readonly id: number;
  readonly accepted: boolean;
  /** The resource's value after the call. */
  readonly value: number;
  readonly reason?: string;
}

/** One line of the resource server's append-only log. */
export interface ResourceEvent {
  readonly seq: number;
  /** Server time at which the call arrived. */
  readonly at: number;
  readonly mode: ResourceMode;
  readonly op: ResourceOp;
  readonly resource: string;
  readonly worker: string;
  readonly attempt: string;
  readonly fence: number;
  readonly sentAt: number;
  readonly accepted: boolean;
  /** Why a call was refused: its token is below the highest seen. */
  readonly reason?: 'stale-token';
  /** The highest token the resource had seen before this call. */
  readonly maxFenceBefore: number;
  readonly valueBefore: number;
  readonly valueAfter: number;
  readonly base?: number;
}

/** Lock settings a worker ran with, needed to rebuild validity deadlines. */
export interface WorkerLockSettings {
  readonly ttlMs: number;
  readonly refreshMs: number;
  readonly commandTimeoutMs: number;
  readonly waitMs: number;
  readonly driftFactor: number;
  /** The locker's `replicas` option (absent: 0, no WAIT) and its `replicaTimeoutMs`. */
  readonly replicas?: number;
  readonly replicaTimeoutMs?: number;
}

/** Which script a recorded command ran. */
export type ScriptName =
  | 'mutex-acquire'
  | 'mutex-extend'
  | 'mutex-release'
  | 'mutex-inspect'
  | 'semaphore-acquire'
  | 'semaphore-extend'
  | 'semaphore-release'
  | 'semaphore-reduce'
  | 'semaphore-inspect'
  | 'election-proclaim'
  | 'election-extend'
  | 'election-resign'
  | 'election-leader'
  | 'reentrant-acquire'
  | 'reentrant-extend'
  | 'reentrant-release'
  | 'reentrant-inspect';

/** The kind of lock a fault run's workers contend for. */
export type FaultLockKind =
  | 'mutex'
  | 'semaphore'
  | 'read-write'
  | 'election'
  | 'reentrant'
  | 'multi';

/** One line of a worker's history. */
export type HistoryEvent =
  | {
      readonly kind: 'start';
      readonly at: number;
      readonly worker: string;
      readonly pid: number;
      readonly client: string;
      readonly settings: WorkerLockSettings;
      /** The kind of lock; absent in runs from before the other kinds: the mutex. */
      readonly lockKind?: FaultLockKind;
      /**
       * How much may be held at once, as the server is asked to enforce it: 1 for a mutex or an
       * election, the limit of a semaphore, READ_WRITE_CAPACITY for a read-write lock.
       */
      readonly capacity?: number;
    }
  | {
      readonly kind: 'acquire-invoke';
      readonly at: number;
      readonly attempt: string;
      /**
       * The lock name this attempt is on, when a run has several: a multi-lock's worker records
       * one attempt per name it asks for (`<attempt>@<name>`), each with that name's token.
       */
      readonly lock?: string;
    }
  | {
      readonly kind: 'acquire-ok';
      readonly at: number;
      readonly attempt: string;
      readonly token: string;
      readonly fence: number;
      readonly remainingMs: number;
      /** How much of the capacity this hold takes (permits; a writer takes all); default 1. */
      readonly weight?: number;
      /** A reentrant lock's owner: holds of one owner share the lock (and its fencing token). */
      readonly owner?: string;
    }
  | {
      readonly kind: 'acquire-fail';
      readonly at: number;
      readonly attempt: string;
      readonly code: string;
      readonly message: string;
    }
  | {
      readonly kind: 'lost';
      readonly at: number;
      readonly attempt: string;
      readonly reason: string;
    }
  | { readonly kind: 'extend-invoke'; readonly at: number; readonly attempt: string }
  | { readonly kind: 'extend-ok'; readonly at: number; readonly attempt: string }
  | {
      readonly kind: 'extend-fail';
      readonly at: number;
      readonly attempt: string;
      readonly code: string;
    }
  | { readonly kind: 'release-invoke'; readonly at: number; readonly attempt: string }
  | {
      readonly kind: 'release-ok';
      readonly at: number;
      readonly attempt: string;
      readonly outcome: string;
    }
  | {
      readonly kind: 'release-fail';
      readonly at: number;
      readonly attempt: string;
      readonly code: string;
    }
  /** The worker asked `lock.isHeld` before a resource call. */
  | {
      readonly kind: 'check';
      readonly at: number;
      readonly attempt: string;
      readonly held: boolean;
      /** `lock.remainingMs` at the check: the holder claims validity until `at + remainingMs`. */
      readonly remainingMs?: number;
    }
  /** One lock script as the adapter saw it: sent at `sentAt`, settled at `at`. */
  | {
      readonly kind: 'command';
      readonly at: number;
      readonly sentAt: number;
      readonly script: ScriptName;
      readonly token: string;
      /** The script's first key (absent in runs from before it was recorded). */
      readonly key?: string;
      /** The ttl argument of acquire and extend. */
      readonly ttlMs?: number;
      /**
       * For extend, what the script the server ran does (read from its text by the recorder):
       * `pexpire` 'gt' never shortens the key (PEXPIRE … GT), 'plain' sets the ttl as given;
       * `reply` 'pttl' answers a success with the key's PTTL after the PEXPIRE, 'flag' with 1.
       */
      readonly extendScript?: { readonly pexpire: 'gt' | 'plain'; readonly reply: 'pttl' | 'flag' };
      readonly ok: boolean;
      readonly reply?: unknown;
      readonly error?: string;
      /**
       * With the `replicas` option: the replicas the WAIT behind the script reported (a shortfall:
       * the library gives an acquisition back, or does not count an extension).
       */
      readonly acknowledged?: number;
    }
  /** Event-loop delay over the last window (`monitorEventLoopDelay`), in ms. */
  | {
      readonly kind: 'lag';
      readonly at: number;
      readonly windowStart: number;
      readonly p50: number;
      readonly p99: number;
      readonly max: number;
      /** The worker's JS heap in use at the end of the window (absent in older runs). */
      readonly heapBytes?: number;
    }
  /** The worker blocked its own event loop (Atomics.wait) from `at` to `until`. */
  | { readonly kind: 'block'; readonly at: number; readonly until: number }
  /** The worker called `locker.close()` (asked by the orchestrator) and it settled at `until`. */
  | { readonly kind: 'locker-close'; readonly at: number; readonly until: number }
  /** A `withLock` call settled: resolved, or rejected with `code` (and a loss `reason`). */
  | {
      readonly kind: 'withlock-settled';
      readonly at: number;
      readonly attempt: string;
      readonly ok: boolean;
      readonly code?: string;
      readonly reason?: string;
    }
  /** The library published on the `latchkey:warning` diagnostics channel. */
  | { readonly kind: 'warning'; readonly at: number; readonly message: string }
  | { readonly kind: 'stop'; readonly at: number; readonly cycles: number };

/** Something the orchestrator did to the system, for the checker's time references. */
export type FaultEvent =
  /** A worker was killed; it holds nothing from `at` on. */
  | { readonly kind: 'worker-kill'; readonly at: number; readonly worker: string }
  /** A worker's process was frozen (SIGSTOP) from `at` to `until`. */
  | {
      readonly kind: 'worker-freeze';
      readonly at: number;
      readonly until: number;
      readonly worker: string;
    }
  /**
   * Lock keys vanished from Redis at `at` (DEL, FLUSHALL, eviction, restart without persistence);
   * a holder can learn it from `observableAt` on (when Redis answers again).
   */
  | {
      readonly kind: 'key-loss';
      readonly at: number;
      readonly observableAt: number;
      readonly what: string;
    }
  /** Redis did not serve commands (stopped, sleeping, paused, busy, down) from `at` to `until`. */
  | {
      readonly kind: 'redis-outage';
      readonly at: number;
      readonly until: number;
      readonly what: string;
    }
  /** Connections were cut or blackholed; informational. */
  | { readonly kind: 'network'; readonly at: number; readonly until: number; readonly what: string }
  /** Anything else the orchestrator wants in the timeline. */
  | { readonly kind: 'note'; readonly at: number; readonly what: string };

/** Messages from a worker process to the orchestrator (IPC). */
export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'held'; readonly attempt: string; readonly fence: number }
  | { readonly type: 'free'; readonly attempt: string }
  /** About to send a write that is already "in flight" (not re-checked before it is sent). */
  | { readonly type: 'write-window'; readonly attempt: string }
  | { readonly type: 'stopped'; readonly cycles: number };

/** Messages from the orchestrator to a worker. */
export type OrchestratorMessage =
  | { readonly type: 'stop' }
  /** Block the event loop now for `ms` (Atomics.wait), like a long GC pause. */
  | { readonly type: 'block'; readonly ms: number }
  /** Call `locker.close()` now (while a critical section may be running), then go on with a new one. */
  | { readonly type: 'close-locker' };
