/**
 * Loss by push: a holder whose lock key is deleted, overwritten, evicted or flushed learns it the
 * moment Redis reports the change (client-side caching, see RedisAdapter.createKeyWatcher), not at
 * its next refresh. Each report is checked by reading the key again (which also keeps it tracked):
 * the holder's own extensions and hand-overs change the key too, and only a key that no longer
 * holds the holder's token means the lock is lost.
 *
 * The watcher connection opens on the first watch. Without one (the adapter has none, or the
 * server refused it) watching does nothing and loss shows at the next refresh, as before; one that
 * was not up in time (Redis down, a failover) is taken when it comes up.
 */

import { IdleClose } from '../../core/idle-close.js';
import { debug } from '../../diagnostics.js';
import type { LockLossReason } from '../../errors.js';
import { OperationTimeout, withTimeout } from '../../time.js';
import type { RedisAdapter, RedisKeyWatcher } from './adapter.js';

type OnLost = (reason: Extract<LockLossReason, 'expired' | 'taken'>) => void;

/**
 * How long the watcher connection stays open with no lock watched. Then it closes (and opens again
 * for the next watch), so a process that never calls close() still exits.
 */
export const WATCHER_IDLE_MS = 2_000;

export class LossWatcher {
  /** Watched keys: each held lock's token and what to call when the key no longer holds it. */
  readonly #watched = new Map<string, Map<string, OnLost>>();
  /** Observed keys: what to call after each read of the key that a reported change caused. */
  readonly #observed = new Map<string, Set<() => void>>();
  #watcher: Promise<RedisKeyWatcher | undefined> | undefined;
  #closed = false;
  readonly #idle = new IdleClose(
    WATCHER_IDLE_MS,
    () => this.#inUse() || this.#closed,
    () => this.#closeIdle(),
  );

  constructor(
    private readonly adapter: RedisAdapter,
    private readonly timeoutMs: number,
  ) {}

  /** Watches `key` while it should hold `token`; returns the way to stop. */
  watch(key: string, token: string, onLost: OnLost): () => void {
    if (this.#closed || !this.adapter.createKeyWatcher) return () => {};
    let holders = this.#watched.get(key);
    if (!holders) {
      holders = new Map();
      this.#watched.set(key, holders);
    }
    holders.set(token, onLost);
    void this.#check(key);
    return () => {
      const current = this.#watched.get(key);
      if (!current?.delete(token)) return;
      if (current.size === 0) this.#watched.delete(key);
      this.#closeWhenIdle();
    };
  }

  /**
   * Calls `onChange` each time Redis reports a change of `key` (or a reconnect, after which changes
   * may have been missed), once the key has been read again so that its next change is reported
   * too; also once after the first read. Returns the way to stop. Does nothing without a watcher.
   */
  observe(key: string, onChange: () => void): () => void {
    if (this.#closed || !this.adapter.createKeyWatcher) return () => {};
    let observers = this.#observed.get(key);
    if (!observers) {
      observers = new Set();
      this.#observed.set(key, observers);
    }
    // A function of its own, so the same callback observing twice stops twice.
    const listener = () => onChange();
    observers.add(listener);
    void this.#check(key);
    return () => {
      const current = this.#observed.get(key);
      if (!current?.delete(listener)) return;
      if (current.size === 0) this.#observed.delete(key);
      this.#closeWhenIdle();
    };
  }

  #inUse(): boolean {
    return this.#watched.size > 0 || this.#observed.size > 0;
  }

  /** Closes the watcher once no lock has been watched for WATCHER_IDLE_MS. */
  #closeWhenIdle(): void {
    if (this.#inUse() || !this.#watcher) return;
    this.#idle.idle();
  }

  #closeIdle(): void {
    const idle = this.#watcher;
    this.#watcher = undefined;
    void idle
      ?.then((watcher) => {
        debug('closing the idle key watcher');
        return watcher?.close();
      })
      .catch((error: unknown) => debug('closing key watcher failed: %o', error));
  }

  #open(): Promise<RedisKeyWatcher | undefined> {
    if (!this.#watcher) {
      const opening: Promise<RedisKeyWatcher | undefined> = this.#create(
        () => this.#watcher === opening,
      );
      this.#watcher = opening;
    }
    return this.#watcher;
  }

  /** `isCurrent`: whether this attempt is still the locker's watcher (not closed as idle since). */
  async #create(isCurrent: () => boolean): Promise<RedisKeyWatcher | undefined> {
    const create = this.adapter.createKeyWatcher;
    if (!create) return undefined;
    const creating = create.call(this.adapter, (keys) => this.#changed(keys));
    try {
      return this.#adopt(await withTimeout(creating, this.timeoutMs));
    } catch (error) {
      if (!(error instanceof OperationTimeout)) {
        // Refused (an ACL without CLIENT TRACKING, a client that cannot): refresh-time detection.
        debug('key watcher unavailable, loss shows at the next refresh: %o', error);
        return undefined;
      }
      // Not answered in time (Redis down, a failover under way): loss shows at the next refresh
      // until the watcher is up. It is taken when it comes, and every watched key read again.
      debug('key watcher not up yet, loss shows at the next refresh until it is: %o', error);
      creating.then(
        (late) => {
          if (!isCurrent()) {
            late.close().catch((error: unknown) => debug('closing key watcher failed: %o', error));
            return;
          }
          const adopted = this.#adopt(late);
          if (!adopted) return;
          this.#watcher = Promise.resolve(adopted);
          this.#changed(null);
          this.#closeWhenIdle();
        },
        (failure: unknown) => debug('key watcher unavailable: %o', failure),
      );
      return undefined;
    }
  }

  /** Takes a watcher that opened; one that opens after close() is closed at once. */
  #adopt(watcher: RedisKeyWatcher): RedisKeyWatcher | undefined {
    if (this.#closed) {
      watcher.close().catch((error: unknown) => debug('closing key watcher failed: %o', error));
      return undefined;
    }
    watcher.onReconnect(() => this.#changed(null));
    return watcher;
  }

  #changed(keys: readonly string[] | null): void {
    for (const key of keys ?? new Set([...this.#watched.keys(), ...this.#observed.keys()])) {
      if (this.#watched.has(key) || this.#observed.has(key)) void this.#check(key);
    }
  }

  /** Reads `key`, reports every holder whose token it no longer holds, and tells observers. */
  async #check(key: string): Promise<void> {
    const watcher = await this.#open();
    if (!watcher || !(this.#watched.has(key) || this.#observed.has(key))) return;
    // Only holders already watching when the read is sent: a lock acquired while it is under way
    // may find a value from before its own SET, and gets a read of its own from watch().
    const holders = [...(this.#watched.get(key) ?? [])];
    let value: string | null;
    try {
      value = await withTimeout(watcher.read(key), this.timeoutMs);
    } catch (error) {
      // Not known either way: the next refresh tells (observers look again on their own).
      debug('reading watched key %s failed: %o', key, error);
      return;
    }
    const current = this.#watched.get(key);
    for (const [token, onLost] of holders) {
      if (value !== token && current?.get(token) === onLost) {
        onLost(value === null ? 'expired' : 'taken');
      }
    }
    for (const onChange of this.#observed.get(key) ?? []) onChange();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#idle.stop();
    this.#watched.clear();
    this.#observed.clear();
    const watcher = await this.#watcher;
    await watcher
      ?.close()
      .catch((error: unknown) => debug('closing key watcher failed: %o', error));
  }
}
