/** What the orchestrator tells a worker process to do; passed as JSON in argv. */
import type { FaultLockKind, WorkerLockSettings } from './events.js';

export type ClientKind = 'ioredis' | 'node-redis';

/**
 * What the workers connect to: one redis-server, a Redis Cluster through a seed node, or the
 * primary of a Sentinel set-up through its Sentinels.
 */
export type Topology = 'single' | 'cluster' | 'sentinel';

/**
 * `bounded`: client options that stop a lock command from being replayed long after latchkey gave
 * up on it (no resend of unanswered commands after a reconnect, offline queue flushed or off, short
 * connect timeout; on a Cluster also no resend of a command whose node connection closed, since
 * it may have run). `defaults`: the client library's defaults, for comparison.
 */
export type ClientProfile = 'bounded' | 'defaults';

export interface WorkerConfig {
  readonly id: string;
  /**
   * The server's port; on a Cluster, the seed node's (the client discovers the others); through
   * Sentinel, the first Sentinel's.
   */
  readonly redisPort: number;
  /**
   * Absent: one server. `cluster`: connect with the client's cluster mode (ioredis `Cluster`,
   * node-redis `createCluster`). `sentinel`: ask `sentinels` for the primary of `sentinelName`
   * (ioredis `sentinels`, node-redis `createSentinel`).
   */
  readonly topology?: Topology;
  /**
   * With topology `cluster`: where to reach each node, "host:port" as the Cluster announces it →
   * a port on 127.0.0.1 (a proxy), given to the client as its address map (ioredis natMap,
   * node-redis nodeAddressMap). Absent: the announced addresses.
   */
  readonly nodeAddresses?: Readonly<Record<string, number>>;
  /** With topology `sentinel`: every Sentinel's port, and the name they monitor. */
  readonly sentinels?: readonly number[];
  readonly sentinelName?: string;
  /**
   * ioredis through Sentinel: `failoverDetector`, so the client leaves a primary as soon as the
   * Sentinels announce another (+switch-master), not when its connection closes.
   */
  readonly failoverDetector?: boolean;
  readonly resourcePort: number;
  readonly lockName: string;
  readonly historyPath: string;
  readonly client: ClientKind;
  readonly profile: ClientProfile;
  readonly settings: WorkerLockSettings;
  /** Time spent inside the critical section between `enter` and `write`, ms [min, max]. */
  readonly workMs: readonly [number, number];
  /**
   * When > 0, the write is treated as already in flight for this long after the last `isHeld`
   * check (a slow network, a long GC): it is sent without another check. The worker announces the
   * window over IPC so the orchestrator can pause it right there.
   */
  readonly writeWindowMs: number;
  /** Pause between a release and the next acquire, ms [min, max]. */
  readonly idleMs: readonly [number, number];
  /** Share of critical sections that also call `lock.extend()` by hand. */
  readonly manualExtendShare: number;
  /** The ttl those manual extends ask for (default: the lock's ttl); shorter ones test item 1. */
  readonly manualExtendTtlMs?: number;
  /**
   * `acquire`: acquire, critical section, release, judging "still held" by `lock.isHeld`.
   * `withLock`: the same inside `locker.withLock`, judging by the callback's signal only (its
   * contract: the signal aborts when the lock is lost, also when the locker closes).
   */
  readonly mode?: 'acquire' | 'withLock';
  /** Independent acquire loops in this process (each a waiter of its own while another holds). */
  readonly concurrency?: number;
  /**
   * What the workers contend for (default the mutex): a semaphore of `limit` permits taking one
   * each, a read-write lock reading with probability `readShare`, or an election (campaign,
   * lead, resign), or a multi-lock over several names.
   */
  readonly lockKind?: FaultLockKind;
  readonly limit?: number;
  readonly readShare?: number;
  /**
   * A reentrant lock's owners: worker w<n> acquires as owner `g<n mod ownerGroups>`, so workers
   * of one group share holds (default: each worker is its own owner).
   */
  readonly ownerGroups?: number;
  /**
   * A multi-lock's names: `<lockName>.0` … `<lockName>.<multiNames − 1>` (default 3), of which
   * each acquisition takes `multiPick` (default 2) drawn at random, so sets overlap in every
   * order.
   */
  readonly multiNames?: number;
  readonly multiPick?: number;
  readonly maxCycles: number;
  readonly maxRunMs: number;
  readonly seed: number;
}

/** The read-write lock's capacity as the checker counts it: a reader takes 1, a writer all. */
export const READ_WRITE_CAPACITY = 1_000_000;

/** How much of the lock may be held at once, for the checker. */
export function capacityOf(config: Pick<WorkerConfig, 'lockKind' | 'limit'>): number {
  if (config.lockKind === 'semaphore') return config.limit ?? 1;
  if (config.lockKind === 'read-write') return READ_WRITE_CAPACITY;
  return 1;
}

export const DEFAULT_SETTINGS: WorkerLockSettings = Object.freeze({
  ttlMs: 1_000,
  refreshMs: 300,
  commandTimeoutMs: 500,
  waitMs: 3_000,
  driftFactor: 0.01,
});

/** Drift latchkey takes off a lock's validity (see `driftFactor` in src/options.ts). */
export function driftMs(settings: WorkerLockSettings): number {
  return Math.floor(settings.ttlMs * settings.driftFactor) + 2;
}
