/**
 * Loss by push on a Redis Cluster, shared by both adapters: client-side caching is per connection
 * and per node, so a key is read (and so tracked) on a watcher of the master that owns its slot,
 * one watcher per master, opened on first use with the client's settings.
 *
 * When the cluster changes under a watched key the watcher hears nothing from the key's new
 * master: a slot that moves takes its keys with it (the old master reports them deleted, and the
 * check that follows reads them on their new master, where they are tracked from then on); a master
 * that goes away drops its watcher's connection, and then every watched key is read again from the
 * slot map of that moment (the reconnect listeners), so it is tracked on the master promoted in its
 * place. A read that meets MOVED or ASK reads the slot map again and goes to the new master.
 */
import type { RedisKeyWatcher } from '../adapter.js';
import { isRedirect, SlotMap } from './slot-map.js';

/** What an adapter gives the cluster key watcher. */
export interface ClusterWatchLinks {
  /** The raw reply of CLUSTER SLOTS, asked of any node through the cluster client. */
  clusterSlots(): Promise<unknown>;
  /**
   * Opens a key watcher (the adapter's own, for one server) on the node at host:port, with the
   * client's settings and without reconnection: `onLost` is called once its connection is gone.
   */
  watchNode(
    host: string,
    port: number,
    onChanged: (keys: readonly string[] | null) => void,
    onLost: () => void,
  ): Promise<RedisKeyWatcher>;
}

export class ClusterKeyWatcher implements RedisKeyWatcher {
  readonly #slots: SlotMap;
  readonly #nodes = new Map<string, Promise<RedisKeyWatcher>>();
  readonly #reconnectListeners: (() => void)[] = [];
  #closed = false;
  #rereading = false;

  constructor(
    private readonly links: ClusterWatchLinks,
    private readonly onChanged: (keys: readonly string[] | null) => void,
  ) {
    this.#slots = new SlotMap(() => links.clusterSlots());
  }

  async read(key: string): Promise<string | null> {
    try {
      return await (await this.#nodeFor(key, false)).read(key);
    } catch (error) {
      if (!isRedirect(error)) throw error;
    }
    try {
      return await (await this.#nodeFor(key, true)).read(key);
    } catch (error) {
      // ASK, or MOVED from a map not yet updated: the key's slot is moving. Once it has moved the
      // key is read again on its new master (and tracked there).
      if (isRedirect(error)) this.#rereadSoon();
      throw error;
    }
  }

  onReconnect(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const nodes = [...this.#nodes.values()];
    this.#nodes.clear();
    await Promise.all(nodes.map((node) => node.then((watcher) => watcher.close()).catch(() => {})));
  }

  async #nodeFor(key: string, fresh: boolean): Promise<RedisKeyWatcher> {
    if (this.#closed) throw new Error('the cluster key watcher is closed');
    const master = await this.#slots.masterOf(key, fresh);
    const existing = this.#nodes.get(master.address);
    if (existing) return existing;
    const opened: Promise<RedisKeyWatcher> = this.links
      .watchNode(master.host, master.port, this.onChanged, () => this.#lost(master.address, opened))
      .then(async (watcher) => {
        // close() ran while it connected: nothing of it may outlive the watcher.
        if (!this.#closed) return watcher;
        await watcher.close();
        throw new Error('the cluster key watcher is closed');
      });
    this.#nodes.set(master.address, opened);
    opened.catch(() => {
      if (this.#nodes.get(master.address) === opened) this.#nodes.delete(master.address);
    });
    // Its own reconnects do not happen (no reconnection), so only a lost node needs a re-read.
    return opened;
  }

  /** Has every watched key read again shortly, from a fresh slot map (a slot is moving). */
  #rereadSoon(): void {
    if (this.#rereading || this.#closed) return;
    this.#rereading = true;
    setTimeout(() => {
      this.#rereading = false;
      if (this.#closed) return;
      this.#slots.refresh().then(
        () => {
          for (const listener of this.#reconnectListeners) listener();
        },
        () => this.#rereadSoon(),
      );
    }, REREAD_DELAY_MS).unref();
  }

  /**
   * A master's watcher lost its connection. Once the slot map no longer names that master (its
   * replica was promoted), or after REREAD_ATTEMPTS reads (it may be back, restarted), every
   * watched key is read again, on the master the map names. A key whose read fails shows its loss
   * at its next refresh.
   */
  #lost(address: string, node: Promise<RedisKeyWatcher>): void {
    if (this.#closed || this.#nodes.get(address) !== node) return;
    this.#nodes.delete(address);
    node.then((watcher) => watcher.close()).catch(() => {});
    void this.#rereadWhenSettled(address);
  }

  async #rereadWhenSettled(lostAddress: string): Promise<void> {
    for (let attempt = 0; attempt < REREAD_ATTEMPTS && !this.#closed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, REREAD_DELAY_MS).unref());
      try {
        await this.#slots.refresh();
      } catch {
        continue;
      }
      if (!(await this.#slots.names(lostAddress))) break;
    }
    if (this.#closed) return;
    for (const listener of this.#reconnectListeners) listener();
  }
}

/** How often, and how long apart, the slot map is read after a master's watcher was lost. */
const REREAD_ATTEMPTS = 40;
const REREAD_DELAY_MS = 250;
