/**
 * The Redis Cluster test harness itself, against the real cluster it starts (three masters with a
 * replica each), talking to the nodes only through `sendCommand`: the cluster comes up whole,
 * `keySlot` agrees with CLUSTER KEYSLOT, a slot moves with its keys, a manual and a kill failover
 * promote the replica, a killed node rejoins as a replica, and `stop` leaves no process behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterNode,
  type ClusterSetup,
  keySlot,
  startCluster,
} from '../helpers/redis-cluster.js';
import { type RespValue, sendCommand } from '../helpers/redis-server.js';

const command = (node: ClusterNode, ...args: (string | number)[]): Promise<RespValue> =>
  sendCommand(node.port, args);

/** The master a replica follows, and whether its link is up, from ROLE. */
async function following(node: ClusterNode): Promise<{ port: number; connected: boolean }> {
  const role = await command(node, 'ROLE');
  if (!Array.isArray(role) || role[0] !== 'slave') return { port: -1, connected: false };
  return { port: Number(role[2]), connected: role[3] === 'connected' };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Cluster harness', () => {
  let cluster: ClusterSetup;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('startCluster › three masters with a replica each serve all 16384 slots', async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(6);
    for (const node of cluster.nodes) {
      expect(await command(node, 'CLUSTER', 'MYID')).toBe(node.id);
      const info = String(await command(node, 'CLUSTER', 'INFO'));
      expect(info).toMatch(/^cluster_state:ok\r$/m);
      expect(info).toMatch(/^cluster_slots_assigned:16384\r$/m);
      expect(info).toMatch(/^cluster_slots_ok:16384\r$/m);
      expect(info).toMatch(/^cluster_size:3\r$/m);
      expect(info).toMatch(/^cluster_known_nodes:6\r$/m);
    }
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    const replicas = await Promise.all(masters.map((master) => cluster.replicaOf(master)));
    expect(new Set([...masters, ...replicas]).size).toBe(6);
    for (const [i, replica] of replicas.entries()) {
      expect(await following(replica)).toEqual({ port: masters[i]?.port, connected: true });
    }
    for (const slot of [0, 5_000, 16_383]) {
      const owner = await cluster.masterOf(slot);
      expect(masters).toContain(owner);
      expect(
        await command(owner, 'CLUSTER', 'COUNTKEYSINSLOT', slot),
        'the owner answers for its slot',
      ).toBe(0);
    }
  });

  it('keySlot › matches CLUSTER KEYSLOT, hash tags included', async () => {
    const keys = [
      '',
      'a',
      'foo',
      '123456789',
      'latchkey:{job}:fence',
      '{a}b',
      'a{}b',
      '{}{x}',
      '{a}{b}',
      'x{a',
      'x}a{',
      '{{a}}',
      'ключ{тег}',
    ];
    const [node] = cluster.nodes as [ClusterNode];
    for (const key of keys) {
      expect(keySlot(key), key).toBe(await command(node, 'CLUSTER', 'KEYSLOT', key));
    }
    expect(keySlot('{a}b')).toBe(keySlot('a'));
    expect(keySlot('{}{x}')).not.toBe(keySlot('x'));
  });

  it('migrateSlot › moves a slot with its keys; the old owner answers MOVED', async () => {
    const slot = keySlot('{moving}');
    const from = await cluster.masterOf(slot);
    const to = (await cluster.masters()).find((master) => master !== from) as ClusterNode;
    // More keys than one MIGRATE batch moves.
    for (let i = 0; i < 250; i++) {
      expect(await command(from, 'SET', `{moving}:${i}`, `value ${i}`)).toBe('OK');
    }
    await cluster.migrateSlot(slot, to);

    expect(await cluster.masterOf(slot)).toBe(to);
    expect(await command(to, 'CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(250);
    expect(await command(from, 'CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);
    expect(await command(to, 'GET', '{moving}:0')).toBe('value 0');
    expect(await command(to, 'GET', '{moving}:249')).toBe('value 249');
    const moved = await command(from, 'GET', '{moving}:0');
    expect(moved).toBeInstanceOf(Error);
    expect((moved as Error).message).toBe(`MOVED ${slot} 127.0.0.1:${to.port}`);
    for (const node of cluster.nodes) {
      const owner = await command(node, 'CLUSTER', 'NODES');
      expect(String(owner)).toMatch(new RegExp(`^${to.id} .* ${slot}(\\s|$)`, 'm'));
    }
  });

  it('failover › manual: the replica takes over and the old master follows it', async () => {
    const slot = keySlot('{manual}');
    const master = await cluster.masterOf(slot);
    const replica = await cluster.replicaOf(master);
    expect(await command(master, 'SET', '{manual}', 'kept')).toBe('OK');
    expect(await command(master, 'WAIT', 1, 5_000)).toBe(1);

    const promoted = await cluster.failover(master);

    expect(promoted).toBe(replica);
    expect(await cluster.masterOf(slot)).toBe(replica);
    expect(await command(replica, 'GET', '{manual}')).toBe('kept');
    expect(await following(master)).toEqual({ port: replica.port, connected: true });
    expect(await cluster.replicaOf(replica)).toBe(master);
    expect(await cluster.masters()).toHaveLength(3);
  }, 30_000);

  it('failover › kill, then restart: the replica takes over, the killed node rejoins as its replica', async () => {
    const slot = keySlot('{killed}');
    const master = await cluster.masterOf(slot);
    const replica = await cluster.replicaOf(master);
    const { pid } = master.server;

    const promoted = await cluster.failover(master, 'kill');

    expect(promoted).toBe(replica);
    expect(isRunning(pid)).toBe(false);
    await expect(command(master, 'PING')).rejects.toThrow();
    expect(await cluster.masterOf(slot)).toBe(replica);
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    expect(masters).not.toContain(master);
    for (const node of cluster.nodes.filter((node) => node !== master)) {
      expect(String(await command(node, 'CLUSTER', 'INFO'))).toMatch(/^cluster_state:ok\r$/m);
    }

    await cluster.restart(master);

    expect(master.server.pid).not.toBe(pid);
    expect(await command(master, 'CLUSTER', 'MYID')).toBe(master.id);
    expect(await following(master)).toEqual({ port: replica.port, connected: true });
    expect(await cluster.replicaOf(replica)).toBe(master);
    expect(String(await command(master, 'CLUSTER', 'INFO'))).toMatch(/^cluster_state:ok\r$/m);
  }, 30_000);

  it('stop › no node keeps running', async () => {
    const pids = cluster.nodes.map((node) => node.server.pid);
    await cluster.stop();
    expect(pids.filter(isRunning)).toEqual([]);
  });
});
