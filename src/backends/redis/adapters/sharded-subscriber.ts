/**
 * A subscriber for Redis Cluster, shared by both adapters: sharded pub/sub (SSUBSCRIBE), each
 * channel on the master that owns its slot, so a release's SPUBLISH (which stays in its shard)
 * reaches it, and so PUBSUB SHARDNUMSUB on that master counts it. Subscribing on a replica would
 * also get the messages, but the master's count would not see it, and its waiter would be
 * skipped as gone.
 *
 * The cluster changes under it: a slot moves to another master (Redis drops the channel with a
 * server-initiated SUNSUBSCRIBE), a master fails and its replica takes over, a node restarts.
 * Each of those leaves channels without a subscription; they are placed again on the master that
 * owns their slot now (read fresh with CLUSTER SLOTS, retried with a backoff until they are), and
 * then the reconnect listeners are told, because messages may have been missed meanwhile.
 *
 * The node connections are the client's own kind, opened with the client's settings and without
 * reconnection of their own: a connection that drops is replaced through a fresh slot map, never
 * reconnected to an address that may no longer serve the slot.
 */
import { debug } from '../../../diagnostics.js';
import type { RedisSubscriber } from '../adapter.js';
import { isRedirect, SlotMap } from './slot-map.js';

/** One subscriber connection to one node, as a client adapter opens it. */
export interface NodeSubscription {
  ssubscribe(channel: string): Promise<void>;
  sunsubscribe(channel: string): Promise<void>;
  close(): Promise<void>;
}

/** What a node connection reports; `lost` may come more than once. */
export interface NodeEvents {
  message(channel: string, message: string): void;
  /** Redis dropped the subscriptions of a slot that left this node; `channel` when known. */
  moved(channel?: string): void;
  /** The connection is gone (closed, refused, errored). */
  lost(): void;
}

/** The two things an adapter does for the cluster subscriber. */
export interface ClusterLinks {
  /** The raw reply of CLUSTER SLOTS, asked of any node through the cluster client. */
  clusterSlots(): Promise<unknown>;
  /** Opens a subscriber connection to the node at host:port with the client's settings. */
  connect(host: string, port: number, events: NodeEvents): Promise<NodeSubscription>;
}

/**
 * How long after a node dropped a channel (its slot left) a slot map that still names that node
 * is taken for out of date. ioredis does not say which channels were dropped, so all of that
 * node's are moved; those whose slot stayed go back to it once this has passed.
 */
const MOVED_FROM_MS = 2_000;

/** Backoff between repairs while a channel has no master to go to (a failover under way). */
const REPAIR_DELAYS_MS = [0, 50, 100, 200, 400, 800, 1_000] as const;

interface ChannelState {
  readonly onMessage: (message: string) => void;
  /** The address of the node it is subscribed on, or undefined while it is not. */
  node: string | undefined;
  /** The node an SSUBSCRIBE of it was last sent to, while not yet placed (see #place). */
  placingOn?: string | undefined;
  /**
   * The node that dropped it because its slot left (a migration, a manual failover that made it a
   * replica), and until when a slot map that still names that node is taken for out of date: a
   * replica would take the subscription, but the master's SHARDNUMSUB would not count it.
   */
  movedFrom?: { readonly address: string; readonly until: number } | undefined;
}

export class ShardedSubscriber implements RedisSubscriber {
  readonly #channels = new Map<string, ChannelState>();
  readonly #nodes = new Map<string, Promise<NodeSubscription>>();
  readonly #reconnectListeners: (() => void)[] = [];
  readonly #slots: SlotMap;
  #repairing: Promise<void> | undefined;
  #repairTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #onClose: () => void = () => {};
  readonly #whenClosed = new Promise<never>((_, reject) => {
    this.#onClose = () => reject(new Error('the cluster subscriber is closed'));
  });

  constructor(private readonly links: ClusterLinks) {
    this.#slots = new SlotMap(() => links.clusterSlots());
    this.#whenClosed.catch(() => {});
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    const state: ChannelState = { onMessage, node: undefined };
    this.#channels.set(channel, state);
    try {
      // close() ends it at once: a CLUSTER SLOTS on a client closing too may never be answered.
      await Promise.race([this.#place(channel, state, false), this.#whenClosed]);
    } catch (error) {
      if (this.#channels.get(channel) === state) this.#channels.delete(channel);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const state = this.#channels.get(channel);
    this.#channels.delete(channel);
    const node = state?.node && this.#nodes.get(state.node);
    if (node) await (await node).sunsubscribe(channel);
  }

  onReconnect(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#onClose();
    clearTimeout(this.#repairTimer);
    const nodes = [...this.#nodes.values()];
    this.#nodes.clear();
    this.#channels.clear();
    await Promise.all(
      nodes.map((node) => node.then((connection) => connection.close()).catch(() => {})),
    );
  }

  /** Subscribes `channel` on the master of its slot; with `fresh`, reads the slot map first. */
  async #place(channel: string, state: ChannelState, fresh: boolean): Promise<void> {
    const master = await this.#slots.masterOf(channel, fresh);
    const { address } = master;
    const moved = state.movedFrom;
    if (moved && moved.address === address && performance.now() < moved.until) {
      throw new Error(`the slot map still names ${address}, which dropped ${channel}`);
    }
    const node = await this.#node(address, master);
    state.placingOn = address;
    try {
      await node.ssubscribe(channel);
    } catch (error) {
      state.placingOn = undefined;
      // Our slot map was older than the cluster's: read it again once.
      if (!fresh && isRedirect(error)) {
        return this.#place(channel, state, true);
      }
      throw error;
    }
    const current = this.#channels.get(channel);
    if (current !== state || this.#closed) {
      // Unsubscribed, or subscribed again since (a repair can still be placing the state that a
      // failed subscribe left). A connection holds a channel once, whoever asked: the SUNSUBSCRIBE
      // would take the newer subscription with it when that one is on (or bound for) this node.
      const sharedHere = !this.#closed && (current?.node ?? current?.placingOn) === address;
      if (!sharedHere) await node.sunsubscribe(channel).catch(() => {});
      return;
    }
    state.node = address;
    state.placingOn = undefined;
    state.movedFrom = undefined;
  }

  #node(address: string, range: { host: string; port: number }): Promise<NodeSubscription> {
    if (this.#closed) return Promise.reject(new Error('the cluster subscriber is closed'));
    const node = this.#nodes.get(address);
    if (node) return node;
    const opened: Promise<NodeSubscription> = this.links
      .connect(range.host, range.port, {
        message: (channel, message) => {
          const state = this.#channels.get(channel);
          if (state?.node === address) state.onMessage(message);
        },
        moved: (channel) => this.#lose(address, opened, channel, false),
        lost: () => this.#lose(address, opened, undefined, true),
      })
      .then(async (connection) => {
        // close() ran while it connected: nothing of it may outlive the subscriber.
        if (!this.#closed) return connection;
        await connection.close();
        throw new Error('the cluster subscriber is closed');
      });
    this.#nodes.set(address, opened);
    opened.catch(() => {
      if (this.#nodes.get(address) === opened) this.#nodes.delete(address);
    });
    return opened;
  }

  /**
   * Channels on `address` (or only `channel`) lost their subscription: the connection `node` is
   * gone (`dropped`), or Redis moved their slot away. They are placed again from a fresh slot map.
   * Word from a connection already replaced is old news.
   */
  #lose(
    address: string,
    node: Promise<NodeSubscription>,
    channel: string | undefined,
    dropped: boolean,
  ): void {
    if (this.#closed || this.#nodes.get(address) !== node) return;
    if (dropped) {
      this.#nodes.delete(address);
      node.then((connection) => connection.close()).catch(() => {});
    }
    let lost = false;
    for (const [name, state] of this.#channels) {
      if (state.node !== address || (channel !== undefined && name !== channel)) continue;
      state.node = undefined;
      if (!dropped) state.movedFrom = { address, until: performance.now() + MOVED_FROM_MS };
      lost = true;
    }
    debug('cluster subscriber: subscriptions on %s lost (%s)', address, dropped ? 'drop' : 'moved');
    if (lost) this.#repair();
  }

  /** Places every channel without a subscription again, retrying until all are placed. */
  #repair(): void {
    if (this.#repairing) {
      this.#repairAgain = true;
      return;
    }
    this.#repairing = this.#repairLoop().finally(() => {
      this.#repairing = undefined;
    });
  }

  #repairAgain = false;

  async #repairLoop(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      this.#repairAgain = false;
      const delay = REPAIR_DELAYS_MS[Math.min(attempt, REPAIR_DELAYS_MS.length - 1)] as number;
      if (delay > 0) {
        await new Promise<void>((resolve) => {
          this.#repairTimer = setTimeout(resolve, delay);
          this.#repairTimer.unref();
        });
      }
      if (this.#closed) return;
      const orphans = [...this.#channels].filter(([, state]) => state.node === undefined);
      try {
        await this.#slots.refresh();
        // Skips channels unsubscribed (or subscribed again, by a state of their own) meanwhile.
        const still = orphans.filter(([channel, state]) => this.#channels.get(channel) === state);
        await Promise.all(still.map(([channel, state]) => this.#place(channel, state, false)));
      } catch (error) {
        debug('cluster subscriber: repair failed, retrying: %o', error);
        continue;
      }
      if (this.#repairAgain) continue;
      if (this.#closed) return;
      // Messages published while the channels were not subscribed are lost: say so.
      for (const listener of this.#reconnectListeners) listener();
      return;
    }
  }
}
