/**
 * The cluster subscriber's bookkeeping (pure logic: the node connections are stand-ins that hold
 * a set of channels as a Redis connection does, one subscription per channel whoever asked, and
 * whose replies the test releases). Placement on real clusters, through slot moves, failovers and
 * CLIENT KILL, is tested in the Cluster conformance suites; here, the interleavings a real cluster
 * makes too rare to hit on purpose.
 */
import { describe, expect, it } from 'vitest';
import {
  type ClusterLinks,
  type NodeEvents,
  ShardedSubscriber,
} from '../../src/backends/redis/adapters/sharded-subscriber.js';

const ONE_MASTER = [[0, 16383, ['127.0.0.1', 7000, 'id-a']]];

/** A reply the test settles by hand. */
function pending() {
  let resolve: () => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One node connection: what Redis holds for it, and its SSUBSCRIBE replies. */
class FakeConnection {
  readonly channels = new Set<string>();
  /** While set, SSUBSCRIBE replies wait here (a slow reply, or one that fails: a dropped socket). */
  holdReplies = false;
  readonly heldReplies: { channel: string; reply: ReturnType<typeof pending> }[] = [];
  constructor(readonly events: NodeEvents) {}

  ssubscribe(channel: string): Promise<void> {
    if (!this.holdReplies) {
      this.channels.add(channel);
      return Promise.resolve();
    }
    const reply = pending();
    this.heldReplies.push({ channel, reply });
    return reply.promise;
  }

  /** The held SSUBSCRIBE of `channel` reaches Redis and its reply comes back. */
  answer(channel: string): void {
    const index = this.heldReplies.findIndex((held) => held.channel === channel);
    const [held] = this.heldReplies.splice(index, 1);
    this.channels.add(channel);
    held?.reply.resolve();
  }

  /** The held SSUBSCRIBE of `channel` fails: the socket closed before it was sent. */
  fail(channel: string): void {
    const index = this.heldReplies.findIndex((held) => held.channel === channel);
    const [held] = this.heldReplies.splice(index, 1);
    held?.reply.reject(new Error('Socket closed unexpectedly'));
  }
}

/** Links to a one-master cluster, with ways to hold its replies. */
function fakeCluster() {
  const connections: FakeConnection[] = [];
  let slotMapGate: ReturnType<typeof pending> | undefined;
  let slotMapReads = 0;
  const settings = { holdNewConnections: false };
  const links: ClusterLinks = {
    clusterSlots: async () => {
      slotMapReads++;
      if (slotMapReads > 1 && slotMapGate) await slotMapGate.promise;
      return ONE_MASTER;
    },
    connect: async (_host, _port, events) => {
      const connection = new FakeConnection(events);
      connection.holdReplies = settings.holdNewConnections;
      connections.push(connection);
      return {
        ssubscribe: (channel) => connection.ssubscribe(channel),
        sunsubscribe: async (channel) => {
          connection.channels.delete(channel);
        },
        close: async () => {},
      };
    },
  };
  return {
    links,
    connections,
    /** Connections opened from now on hold their SSUBSCRIBE replies. */
    holdNewConnections: () => {
      settings.holdNewConnections = true;
    },
    /** Holds the CLUSTER SLOTS reads after the first (a repair's) until the returned call. */
    holdSlotMapReads: () => {
      slotMapGate = pending();
      return slotMapGate.resolve;
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('cluster subscriber', () => {
  /**
   * A CLIENT KILL drops the connection while a SSUBSCRIBE is on its way: the repair that the drop
   * starts still has the failed subscription in its list when the caller subscribes again.
   */
  async function subscriptionFailsDuringRepair(repairPlacesFirst: boolean) {
    const cluster = fakeCluster();
    const subscriber = new ShardedSubscriber(cluster.links);
    await subscriber.subscribe('{a}:warm', () => {});
    const [first] = cluster.connections;
    if (!first) throw new Error('no connection');
    first.holdReplies = true;
    const failing = subscriber.subscribe('{a}:lock', () => {});
    await settle();
    const openSlotMap = cluster.holdSlotMapReads();
    first.events.lost();
    if (repairPlacesFirst) {
      cluster.holdNewConnections();
      openSlotMap();
      await settle();
      // The repair's SSUBSCRIBE of the old subscription is under way on the new connection.
      const second = cluster.connections[1];
      if (!second) throw new Error('the repair opened no connection');
      expect(second.heldReplies.map(({ channel }) => channel).sort()).toEqual([
        '{a}:lock',
        '{a}:warm',
      ]);
      first.fail('{a}:lock');
      await expect(failing).rejects.toThrow(/Socket closed/);
      const again = subscriber.subscribe('{a}:lock', () => {});
      await settle();
      // Replies in the order sent: the repair's two, then the new subscription's.
      for (const { channel } of [...second.heldReplies]) second.answer(channel);
      await again;
    } else {
      first.fail('{a}:lock');
      await expect(failing).rejects.toThrow(/Socket closed/);
      await subscriber.subscribe('{a}:lock', () => {});
      openSlotMap();
    }
    await settle();
    const last = cluster.connections.at(-1);
    expect(cluster.connections).toHaveLength(2);
    expect([...(last?.channels ?? [])].sort()).toEqual(['{a}:lock', '{a}:warm']);
    await subscriber.close();
  }

  it('a subscription made again while a repair holds the failed one stays subscribed', async () => {
    await subscriptionFailsDuringRepair(false);
  });

  it('a repair that places a failed subscription after it was made again does not unsubscribe the new one', async () => {
    await subscriptionFailsDuringRepair(true);
  });

  it('a subscription unsubscribed while its SSUBSCRIBE was on its way is unsubscribed when the reply comes', async () => {
    const cluster = fakeCluster();
    const subscriber = new ShardedSubscriber(cluster.links);
    await subscriber.subscribe('{a}:warm', () => {});
    const [connection] = cluster.connections;
    if (!connection) throw new Error('no connection');
    connection.holdReplies = true;
    const subscribing = subscriber.subscribe('{a}:lock', () => {});
    await settle();
    await subscriber.unsubscribe('{a}:lock');
    connection.answer('{a}:lock');
    await subscribing;
    await settle();
    expect([...connection.channels]).toEqual(['{a}:warm']);
    await subscriber.close();
  });
});
