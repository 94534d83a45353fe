/**
 * A worker process of a fault run: loops acquire → enter → work → write (with the fencing token) →
 * exit → release on one lock, and appends everything it sees to its history (JSONL, common
 * timebase). Separate processes so the orchestrator can SIGSTOP and SIGKILL them one by one.
 *
 * Started from its bundle (test/helpers/bundled-entry.ts) with one argument, the WorkerConfig as
 * JSON, and an IPC channel.
 */
import { subscribe } from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import type { RedisAdapter } from '../../src/backends/redis/adapter.js';
import { fromIORedis } from '../../src/backends/redis/adapters/ioredis.js';
import { fromNodeRedis } from '../../src/backends/redis/adapters/node-redis.js';
import { isLockError, type Lock, Locker, type MultiHold } from '../../src/index.js';
import { now, pause } from './clock.js';
import type { HistoryEvent, OrchestratorMessage, WorkerMessage } from './events.js';
import { JsonlWriter } from './jsonl.js';
import { seededRandom } from './random.js';
import { recordingAdapter } from './recording-adapter.js';
import { ResourceClient } from './resource-client.js';
import {
  type ClientProfile,
  capacityOf,
  READ_WRITE_CAPACITY,
  type WorkerConfig,
} from './worker-config.js';

const LAG_WINDOW_MS = 1_000;
/** The resource every kind but the multi-lock works on (a multi-lock: one per name). */
const SHARED_RESOURCE = 'shared';

/** What a critical section needs of a hold: a Lock, or a multi-lock's MultiHold. */
type Holding = Pick<Lock, 'remainingMs' | 'isHeld' | 'signal' | 'extend'>;

/** One lock of a hold as the checker sees it: its own attempt id, resource and fencing token. */
interface HeldPart {
  readonly attempt: string;
  readonly resource: string;
  readonly lock: Lock;
}
/** A worker that does not finish within this after `stop` exits anyway. */
const STOP_GRACE_MS = 4_000;

interface Connection {
  readonly adapter: RedisAdapter;
  close(): Promise<void>;
}

function boundedIORedisOptions(profile: ClientProfile) {
  if (profile === 'defaults') return {};
  return {
    // Never replay a lock command that was in flight when the connection broke…
    autoResendUnfulfilledCommands: false,
    // …and fail commands queued while disconnected at the next failed reconnect, not hours later.
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
  };
}

async function connectIORedis(config: WorkerConfig): Promise<Connection> {
  const client = new Redis({
    port: config.redisPort,
    host: '127.0.0.1',
    ...boundedIORedisOptions(config.profile),
  });
  client.on('error', () => {});
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  return {
    adapter: fromIORedis(client),
    close: async () => client.disconnect(),
  };
}

/** node-redis options of the bounded profile, for one server's client and each cluster node's. */
const BOUNDED_NODE_REDIS = {
  disableOfflineQueue: true,
  socket: {
    connectTimeout: 500,
    reconnectStrategy: (attempt: number) => Math.min(attempt * 50, 500),
  },
};

async function connectNodeRedis(config: WorkerConfig): Promise<Connection> {
  const bounded = config.profile === 'bounded';
  const client = createClient({
    url: `redis://127.0.0.1:${config.redisPort}`,
    ...(bounded ? BOUNDED_NODE_REDIS : {}),
  });
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromNodeRedis(client),
    close: async () => client.destroy(),
  };
}

/**
 * The bounded profile for ioredis's Cluster: each node connection as for one server (less its
 * retryStrategy: the Cluster gives its node connections none), and a command whose node
 * connection closed fails instead of being sent again 100 ms later (the default), maybe to the
 * node that took over: it may have run. MOVED, ASK and TRYAGAIN are still followed: the command
 * did not run.
 */
function boundedIORedisClusterOptions(profile: ClientProfile) {
  if (profile === 'defaults') return {};
  const { retryStrategy: _perNode, ...redisOptions } = boundedIORedisOptions(profile);
  return {
    redisOptions,
    retryDelayOnFailover: 0,
    // Commands sent while the Cluster is not ready fail at once instead of waiting in a queue.
    enableOfflineQueue: false,
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
  };
}

/** A Cluster node's address as the worker reaches it (see WorkerConfig.nodeAddresses). */
function nodeAddress(config: WorkerConfig, announced: string) {
  const port = config.nodeAddresses?.[announced];
  return port === undefined ? undefined : { host: '127.0.0.1', port };
}

async function connectIORedisCluster(config: WorkerConfig): Promise<Connection> {
  const client = new Cluster([{ host: '127.0.0.1', port: config.redisPort }], {
    lazyConnect: true,
    ...boundedIORedisClusterOptions(config.profile),
    ...(config.nodeAddresses && { natMap: (key: string) => nodeAddress(config, key) ?? null }),
  });
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromIORedis(client),
    close: async () => client.disconnect(),
  };
}

async function connectNodeRedisCluster(config: WorkerConfig): Promise<Connection> {
  const bounded = config.profile === 'bounded';
  const client = createCluster({
    rootNodes: [{ socket: { host: '127.0.0.1', port: config.redisPort } }],
    // Each node client as for one server.
    ...(bounded ? { defaults: BOUNDED_NODE_REDIS } : {}),
    ...(config.nodeAddresses && {
      nodeAddressMap: (address: string) => nodeAddress(config, address),
    }),
  });
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromNodeRedis(client),
    close: async () => client.destroy(),
  };
}

/** The Sentinels of a `sentinel` worker, and the name they monitor. */
function sentinelsOf(config: WorkerConfig) {
  const { sentinels, sentinelName } = config;
  if (!sentinels?.length || !sentinelName) {
    throw new Error(`worker ${config.id}: topology sentinel needs sentinels and sentinelName`);
  }
  return { ports: sentinels, name: sentinelName };
}

/**
 * ioredis through Sentinel: the bounded profile on the primary's connection (its retryStrategy
 * asks the Sentinels again each time), and the Sentinels themselves asked again as often.
 */
async function connectIORedisSentinel(config: WorkerConfig): Promise<Connection> {
  const { ports, name } = sentinelsOf(config);
  const bounded = boundedIORedisOptions(config.profile);
  const client = new Redis({
    sentinels: ports.map((port) => ({ host: '127.0.0.1', port })),
    name,
    lazyConnect: true,
    ...(config.failoverDetector && { failoverDetector: true }),
    ...bounded,
    ...('retryStrategy' in bounded && { sentinelRetryStrategy: bounded.retryStrategy }),
  });
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromIORedis(client),
    close: async () => client.disconnect(),
  };
}

async function connectNodeRedisSentinel(config: WorkerConfig): Promise<Connection> {
  const { ports, name } = sentinelsOf(config);
  const bounded = config.profile === 'bounded';
  const client = createSentinel({
    name,
    sentinelRootNodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    ...(bounded ? { nodeClientOptions: BOUNDED_NODE_REDIS } : {}),
  });
  client.on('error', () => {});
  await client.connect();
  return {
    adapter: fromNodeRedis(client as unknown as Parameters<typeof fromNodeRedis>[0]),
    close: async () => client.destroy(),
  };
}

function connect(config: WorkerConfig): Promise<Connection> {
  if (config.topology === 'sentinel') {
    return config.client === 'ioredis'
      ? connectIORedisSentinel(config)
      : connectNodeRedisSentinel(config);
  }
  if (config.topology === 'cluster') {
    return config.client === 'ioredis'
      ? connectIORedisCluster(config)
      : connectNodeRedisCluster(config);
  }
  return config.client === 'ioredis' ? connectIORedis(config) : connectNodeRedis(config);
}

function errorCode(error: unknown): string {
  if (isLockError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return 'unknown';
}

class Worker {
  readonly #history: JsonlWriter;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  #cycles = 0;
  #locker: Locker | undefined;
  #makeLocker: (() => Locker) | undefined;

  constructor(
    private readonly config: WorkerConfig,
    private readonly send: (message: WorkerMessage) => void,
  ) {
    this.#history = new JsonlWriter(config.historyPath);
    this.#random = seededRandom(config.seed);
  }

  record(event: HistoryEvent): void {
    this.#history.append(event);
  }

  get cycles(): number {
    return this.#cycles;
  }

  stop(): void {
    this.#stop.abort();
  }

  /** Closes the locker now, whatever its locks are doing, and goes on with a new one. */
  async closeLocker(): Promise<void> {
    const locker = this.#locker;
    if (!locker || !this.#makeLocker) return;
    this.#locker = this.#makeLocker();
    const at = now();
    await locker.close().catch(() => {});
    this.record({ kind: 'locker-close', at, until: now() });
  }

  block(ms: number): void {
    const at = now();
    this.record({ kind: 'block', at, until: at + ms });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  }

  #between([min, max]: readonly [number, number]): number {
    return min + Math.floor(this.#random() * (max - min + 1));
  }

  async run(): Promise<void> {
    const { config } = this;
    this.record({
      kind: 'start',
      at: now(),
      worker: config.id,
      pid: process.pid,
      client: `${config.client}${config.topology && config.topology !== 'single' ? ` ${config.topology}` : ''}/${config.profile}`,
      settings: config.settings,
      lockKind: config.lockKind ?? 'mutex',
      capacity: capacityOf(config),
    });
    const lag = this.#monitorLag();
    // Published once per locker when Redis may evict the fencing counter (issue 8, item 7).
    subscribe('latchkey:warning', (message) => {
      this.record({ kind: 'warning', at: now(), message: JSON.stringify(message).slice(0, 300) });
    });
    const connection = await connect(config);
    const resource = await ResourceClient.connect(config.resourcePort, config.id, SHARED_RESOURCE);
    const { ttlMs, refreshMs, commandTimeoutMs, waitMs, driftFactor } = config.settings;
    const { replicas, replicaTimeoutMs } = config.settings;
    const replication = {
      ...(replicas === undefined ? {} : { replicas }),
      ...(replicaTimeoutMs === undefined ? {} : { replicaTimeoutMs }),
    };
    const adapter = recordingAdapter(connection.adapter, (event) => this.record(event));
    this.#makeLocker = () =>
      new Locker(adapter, {
        ttlMs,
        refreshMs,
        commandTimeoutMs,
        waitMs,
        driftFactor,
        ...replication,
      });
    this.#locker = this.#makeLocker();
    this.send({ type: 'ready' });
    const endAt = now() + config.maxRunMs;
    const loops = config.concurrency ?? 1;
    const loop = async (index: number) => {
      let n = 0;
      while (!this.#stop.signal.aborted && this.#cycles < config.maxCycles && now() < endAt) {
        this.#cycles++;
        n++;
        const attempt = loops === 1 ? `${config.id}:${n}` : `${config.id}:${index}.${n}`;
        if (config.mode === 'withLock') await this.#withLockCycle(resource, attempt);
        else await this.#cycle(this.#locker as Locker, resource, attempt);
        await pause(this.#between(config.idleMs), this.#stop.signal);
      }
    };
    try {
      await Promise.all(Array.from({ length: loops }, (_, index) => loop(index + 1)));
    } finally {
      clearInterval(lag);
      await this.#locker?.close().catch(() => {});
      resource.close();
      await connection.close().catch(() => {});
      this.record({ kind: 'stop', at: now(), cycles: this.#cycles });
      this.#history.close();
    }
  }

  async #cycle(locker: Locker, resource: ResourceClient, attempt: string): Promise<void> {
    if (this.config.lockKind === 'multi') {
      await this.#multiCycle(locker, resource, attempt);
      return;
    }
    this.record({ kind: 'acquire-invoke', at: now(), attempt });
    let lock: Lock;
    let weight: number;
    let owner: string | undefined;
    try {
      ({ lock, weight, owner } = await this.#acquire(locker));
    } catch (error) {
      this.#acquireFailed(attempt, error);
      return;
    }
    this.#held(lock, attempt, weight, owner);
    const part = { attempt, resource: SHARED_RESOURCE, lock };
    try {
      await this.#criticalSection(lock, [part], resource, () => lock.isHeld);
    } finally {
      this.send({ type: 'free', attempt });
      this.record({ kind: 'release-invoke', at: now(), attempt });
      try {
        const result = await lock.release();
        this.record({ kind: 'release-ok', at: now(), attempt, outcome: result.outcome });
      } catch (error) {
        this.record({ kind: 'release-fail', at: now(), attempt, code: errorCode(error) });
      }
    }
  }

  /**
   * A multi-lock over `multiPick` of the run's `multiNames` names, drawn per cycle. The checker
   * sees one attempt per name (`<attempt>@<name>`, with that name's token and fence) and each
   * name's own resource, so it judges exclusion and fencing name by name.
   */
  async #multiCycle(locker: Locker, resource: ResourceClient, attempt: string): Promise<void> {
    const names = this.#pickNames();
    const attemptOf = (name: string) => `${attempt}@${name}`;
    const invokedAt = now();
    for (const name of names) {
      this.record({ kind: 'acquire-invoke', at: invokedAt, attempt: attemptOf(name), lock: name });
    }
    let hold: MultiHold;
    try {
      hold = await locker.multi(names).acquire({ signal: this.#stop.signal });
    } catch (error) {
      for (const name of names) this.#acquireFailed(attemptOf(name), error);
      return;
    }
    const parts = hold.names.map((name) => ({
      attempt: attemptOf(name),
      resource: name,
      lock: hold.locks.get(name) as Lock,
    }));
    for (const part of parts) this.#held(part.lock, part.attempt, 1, undefined, false);
    const first = parts[0]?.attempt ?? attempt;
    this.send({ type: 'held', attempt: first, fence: hold.fencingTokens.get(names[0] ?? '') ?? 0 });
    try {
      await this.#criticalSection(hold, parts, resource, () => hold.isHeld);
    } finally {
      this.send({ type: 'free', attempt: first });
      const releasedAt = now();
      for (const part of parts) {
        this.record({ kind: 'release-invoke', at: releasedAt, attempt: part.attempt });
      }
      try {
        const result = await hold.release();
        for (const part of parts) {
          const outcome = result.outcomes.get(part.resource) ?? result.outcome;
          this.record({ kind: 'release-ok', at: now(), attempt: part.attempt, outcome });
        }
      } catch (error) {
        for (const part of parts) {
          this.record({
            kind: 'release-fail',
            at: now(),
            attempt: part.attempt,
            code: errorCode(error),
          });
        }
      }
    }
  }

  /** `multiPick` distinct names of the run's `multiNames`, in random order (the lock sorts them). */
  #pickNames(): string[] {
    const { lockName, multiNames = 3, multiPick = 2 } = this.config;
    const pool = Array.from({ length: multiNames }, (_, i) => `${lockName}.${i}`);
    const picked: string[] = [];
    while (picked.length < Math.min(multiPick, pool.length)) {
      const [name] = pool.splice(Math.floor(this.#random() * pool.length), 1);
      if (name !== undefined) picked.push(name);
    }
    return picked;
  }

  /** Takes the run's kind of lock; `weight` is how much of its capacity the hold takes. */
  async #acquire(locker: Locker): Promise<{ lock: Lock; weight: number; owner?: string }> {
    const { lockKind, lockName, limit, readShare } = this.config;
    const options = { signal: this.#stop.signal };
    switch (lockKind) {
      case 'semaphore':
        return {
          lock: await locker.semaphore(lockName, { limit: limit ?? 1 }).acquire(options),
          weight: 1,
        };
      case 'read-write': {
        const rw = locker.readWrite(lockName);
        if (this.#random() < (readShare ?? 0.9)) {
          return { lock: await rw.acquireRead(options), weight: 1 };
        }
        return { lock: await rw.acquireWrite(options), weight: READ_WRITE_CAPACITY };
      }
      case 'reentrant': {
        const { id, ownerGroups } = this.config;
        const owner = ownerGroups ? `g${Number(id.slice(1)) % ownerGroups}` : id;
        return {
          lock: await locker.reentrant(lockName).acquire({ ...options, owner }),
          weight: 1,
          owner,
        };
      }
      case 'election':
        return {
          lock: await locker.election(lockName).campaign(this.config.id, options),
          weight: 1,
        };
      default:
        return { lock: await locker.acquire(lockName, options), weight: 1 };
    }
  }

  #acquireFailed(attempt: string, error: unknown): void {
    this.record({
      kind: 'acquire-fail',
      at: now(),
      attempt,
      code: errorCode(error),
      message: String(error).slice(0, 200),
    });
  }

  /**
   * withLock: acquire-ok when the callback starts, release-invoke when it returns (withLock
   * releases then), and how withLock settled. "Held" is judged by the callback's signal alone.
   */
  async #withLockCycle(resource: ResourceClient, attempt: string): Promise<void> {
    this.record({ kind: 'acquire-invoke', at: now(), attempt });
    let entered = false;
    const locker = this.#locker as Locker;
    try {
      await locker.withLock(
        this.config.lockName,
        async (signal, lock) => {
          entered = true;
          this.#held(lock, attempt);
          try {
            const part = { attempt, resource: SHARED_RESOURCE, lock };
            await this.#criticalSection(lock, [part], resource, () => !signal.aborted);
          } finally {
            this.send({ type: 'free', attempt });
            this.record({ kind: 'release-invoke', at: now(), attempt });
          }
        },
        { signal: this.#stop.signal },
      );
      this.record({ kind: 'withlock-settled', at: now(), attempt, ok: true });
    } catch (error) {
      if (!entered) {
        this.#acquireFailed(attempt, error);
        return;
      }
      const reason = (error as { reason?: unknown }).reason;
      this.record({
        kind: 'withlock-settled',
        at: now(),
        attempt,
        ok: false,
        code: errorCode(error),
        ...(typeof reason === 'string' ? { reason } : {}),
      });
    }
  }

  /** Records a fresh hold and its lost signal, and tells the orchestrator (unless told not to). */
  #held(lock: Lock, attempt: string, weight = 1, owner?: string, announce = true): void {
    this.record({
      kind: 'acquire-ok',
      at: now(),
      attempt,
      token: lock.token,
      fence: lock.fencingToken,
      remainingMs: lock.remainingMs,
      ...(weight === 1 ? {} : { weight }),
      ...(owner === undefined ? {} : { owner }),
    });
    lock.signal.addEventListener(
      'abort',
      () => {
        const reason = lock.signal.reason as { reason?: string } | undefined;
        this.record({ kind: 'lost', at: now(), attempt, reason: reason?.reason ?? 'unknown' });
      },
      { once: true },
    );
    if (announce) this.send({ type: 'held', attempt, fence: lock.fencingToken });
  }

  /** Records what the holder believes now, once per part; true when it holds. */
  #check(hold: Holding, parts: readonly HeldPart[], isHeld: () => boolean): boolean {
    // The time first: a claim is at + remainingMs, and remainingMs read later can only be smaller.
    const at = now();
    const remainingMs = hold.remainingMs;
    const held = isHeld();
    for (const part of parts) {
      this.record({ kind: 'check', at, attempt: part.attempt, held, remainingMs });
    }
    return held;
  }

  /**
   * enter → work → (extend) → work → check → write → exit, on each part's resource with that
   * part's fencing token. One part for every kind but the multi-lock.
   */
  async #criticalSection(
    hold: Holding,
    parts: readonly HeldPart[],
    resource: ResourceClient,
    isHeld: () => boolean,
  ): Promise<void> {
    const onEach = (op: 'enter' | 'exit') =>
      Promise.all(
        parts.map((part) =>
          resource.call({
            op,
            attempt: part.attempt,
            fence: part.lock.fencingToken,
            resource: part.resource,
          }),
        ),
      );
    if (!this.#check(hold, parts, isHeld)) return;
    const entered = await onEach('enter');
    try {
      if (!entered.every((reply) => reply.accepted)) return;
      const work = this.#between(this.config.workMs);
      await pause(work / 2, hold.signal);
      if (this.#random() < this.config.manualExtendShare && !hold.signal.aborted) {
        await this.#extend(hold, parts);
      }
      await pause(work / 2, hold.signal);
      if (!this.#check(hold, parts, isHeld)) return;
      if (this.config.writeWindowMs > 0) {
        // The write is on its way: whatever happens now, it will arrive.
        this.send({ type: 'write-window', attempt: parts[0]?.attempt ?? '' });
        await pause(this.config.writeWindowMs);
      }
      await Promise.all(
        parts.map((part, i) =>
          resource.call({
            op: 'write',
            attempt: part.attempt,
            fence: part.lock.fencingToken,
            base: entered[i]?.value ?? 0,
            resource: part.resource,
          }),
        ),
      );
    } finally {
      await onEach('exit');
    }
  }

  async #extend(hold: Holding, parts: readonly HeldPart[]): Promise<void> {
    const each = (event: (attempt: string) => HistoryEvent) => {
      for (const part of parts) this.record(event(part.attempt));
    };
    each((attempt) => ({ kind: 'extend-invoke', at: now(), attempt }));
    try {
      await hold.extend(this.config.manualExtendTtlMs);
      each((attempt) => ({ kind: 'extend-ok', at: now(), attempt }));
      // What the holder believes right after: the checker compares it with what Redis replied.
      this.#check(hold, parts, () => hold.isHeld);
    } catch (error) {
      const code = errorCode(error);
      each((attempt) => ({ kind: 'extend-fail', at: now(), attempt, code }));
    }
  }

  #monitorLag(): NodeJS.Timeout {
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    let windowStart = now();
    return setInterval(() => {
      const at = now();
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      this.record({
        kind: 'lag',
        at,
        windowStart,
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        heapBytes: process.memoryUsage().heapUsed,
      });
      histogram.reset();
      windowStart = at;
    }, LAG_WINDOW_MS);
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
  const send = (message: WorkerMessage) => {
    if (process.connected) process.send?.(message);
  };
  const worker = new Worker(config, send);
  const stop = () => {
    worker.stop();
    setTimeout(() => process.exit(3), STOP_GRACE_MS).unref();
  };
  process.on('message', (message: OrchestratorMessage) => {
    if (message.type === 'stop') stop();
    else if (message.type === 'block') worker.block(message.ms);
    else if (message.type === 'close-locker') void worker.closeLocker();
  });
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  await worker.run();
  send({ type: 'stopped', cycles: worker.cycles });
  process.disconnect?.();
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed: ${String(error)}\n`);
  process.exit(2);
});
