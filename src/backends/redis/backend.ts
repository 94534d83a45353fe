/**
 * One Redis as a lock backend: the script runner, the pub/sub waker and the clean-ups of one
 * locker, and a store per kind that turns each step of a lock into one script.
 */
import { randomBytes } from 'node:crypto';
import type {
  LeaderSnapshot,
  LockBackend,
  LockMode,
  ReadWriteSnapshot,
  ReentrantSnapshot,
  ReleaseReply,
  SemaphoreSnapshot,
} from '../../core/backend.js';
import { CleanUps } from '../../core/clean-ups.js';
import { debug } from '../../diagnostics.js';
import type { RedisAdapter } from './adapter.js';
import { RedisElectionStore, readLeader } from './election-store.js';
import {
  type ElectionKeys,
  electionKeys,
  KeyCache,
  type MutexKeys,
  mutexKeys,
  type ReentrantKeys,
  readWriteKeys,
  reentrantKeys,
  type SemaphoreKeys,
  semaphoreKeys,
  wakeChannel,
} from './keys.js';
import { LossWatcher } from './loss-watcher.js';
import { MutexStore } from './mutex-store.js';
import { PubSubWaker } from './pubsub-waker.js';
import { RedisReadWriteStore, readWriteSnapshot } from './read-write-store.js';
import { ReentrantStore } from './reentrant-store.js';
import { ScriptRunner } from './script-runner.js';
import { type InspectReply, mutexInspect, mutexRelease } from './scripts/index.js';
import { reentrantInspect } from './scripts/reentrant.js';
import { semaphoreInspect } from './scripts/semaphore.js';
import { SemaphoreStore } from './semaphore-store.js';

export class RedisSession implements LockBackend {
  readonly runner: ScriptRunner;
  readonly waker: PubSubWaker;
  readonly cleanUps: CleanUps;
  readonly lossWatcher: LossWatcher;
  /**
   * With the `replicas` option a grant's write must be confirmed by a WAIT of our own, so a waiter
   * takes a granted lock by an attempt (which waits for the replicas), not from the message.
   */
  readonly grantsByAttempt: boolean;
  readonly #mutexKeys: KeyCache<MutexKeys>;
  readonly #semaphoreKeys: KeyCache<SemaphoreKeys>;
  readonly #readWriteKeys: KeyCache<SemaphoreKeys>;
  readonly #reentrantKeys: KeyCache<ReentrantKeys>;
  readonly #electionKeys: KeyCache<ElectionKeys>;

  constructor(
    adapter: RedisAdapter,
    options: {
      readonly prefix: string;
      readonly commandTimeoutMs: number;
      readonly replicas?: number;
      readonly replicaTimeoutMs?: number;
    },
    /** Aborted by the locker's close(): clean-ups make one last attempt. */
    closed: AbortSignal,
  ) {
    const replicas = options.replicas ?? 0;
    this.runner = new ScriptRunner(adapter, options.commandTimeoutMs, {
      replicas,
      timeoutMs: options.replicaTimeoutMs ?? 0,
    });
    this.grantsByAttempt = replicas > 0;
    this.#mutexKeys = new KeyCache(options.prefix, mutexKeys);
    this.#semaphoreKeys = new KeyCache(options.prefix, semaphoreKeys);
    this.#readWriteKeys = new KeyCache(options.prefix, readWriteKeys);
    this.#reentrantKeys = new KeyCache(options.prefix, reentrantKeys);
    this.#electionKeys = new KeyCache(options.prefix, electionKeys);
    this.cleanUps = new CleanUps(closed);
    this.lossWatcher = new LossWatcher(adapter, options.commandTimeoutMs);
    this.waker = new PubSubWaker(
      adapter,
      wakeChannel(randomBytes(8).toString('hex')),
      options.commandTimeoutMs,
      (token) => this.cleanUps.granted(token),
    );
  }

  get commandTimeoutMs(): number {
    return this.runner.commandTimeoutMs;
  }

  checkServer(): Promise<void> {
    return this.runner.checkServer();
  }

  mutex(name: string): MutexStore {
    return new MutexStore(this, name, this.#mutexKeys.get(name));
  }

  inspectMutex(name: string): Promise<InspectReply> {
    return this.runner.run(mutexInspect, this.#mutexKeys.get(name), undefined as never);
  }

  watchMutex(name: string, onChange: () => void): () => void {
    return this.lossWatcher.observe(this.#mutexKeys.get(name).lock, onChange);
  }

  forceReleaseMutex(name: string, token: string): Promise<ReleaseReply> {
    // No tombstone: the holder's own release, if it comes, then says its lock was gone.
    return this.runner.run(mutexRelease, this.#mutexKeys.get(name), { token, withdraw: false });
  }

  semaphore(name: string, limit: number, permits: number): SemaphoreStore {
    return new SemaphoreStore(this, name, this.#semaphoreKeys.get(name), limit, permits);
  }

  inspectSemaphore(name: string): Promise<SemaphoreSnapshot> {
    return this.runner.run(semaphoreInspect, this.#semaphoreKeys.get(name), undefined as never);
  }

  reentrant(name: string, owner: string): ReentrantStore {
    return new ReentrantStore(this, name, this.#reentrantKeys.get(name), owner);
  }

  inspectReentrant(name: string): Promise<ReentrantSnapshot> {
    return this.runner.run(reentrantInspect, this.#reentrantKeys.get(name), undefined as never);
  }

  readWrite(name: string, mode: LockMode): RedisReadWriteStore {
    return new RedisReadWriteStore(this, name, this.#readWriteKeys.get(name), mode);
  }

  async inspectReadWrite(name: string): Promise<ReadWriteSnapshot> {
    const keys = this.#readWriteKeys.get(name);
    return readWriteSnapshot(await this.runner.run(semaphoreInspect, keys, undefined as never));
  }

  election(name: string): RedisElectionStore {
    return new RedisElectionStore(this, name, this.#electionKeys.get(name));
  }

  inspectElection(name: string): Promise<LeaderSnapshot | undefined> {
    return readLeader(this, this.#electionKeys.get(name));
  }

  watchElection(name: string, onChange: () => void): Promise<() => Promise<void>> {
    return this.waker.listen(this.#electionKeys.get(name).changes, () => onChange());
  }

  /**
   * Waits for clean-ups (after close, one last attempt each), then closes the subscriber and the
   * key watcher.
   */
  async close(): Promise<void> {
    await this.lossWatcher.close();
    await this.cleanUps.settle();
    await this.waker
      .close()
      .catch((error: unknown) => debug('closing subscriber failed: %o', error));
  }
}
