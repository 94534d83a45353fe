/**
 * The faults of the Cluster rows (C1–C4), on the shard that serves the lock: its master killed
 * (SIGKILL) and its replica promoted, its slot migrated to another master, a manual failover, its
 * master stopped (SIGSTOP) for less than the Cluster needs to fail it over. Each records what it
 * did in the fault timeline and returns when the shard was out or changing, for the rows' figures.
 * Admin commands go over fresh connections (test/helpers/redis-server.ts), never through the
 * clients under test; every wait is bounded.
 */
import { createConnection } from 'node:net';
import { type ClusterNode, type ClusterSetup, keySlot } from '../helpers/redis-cluster.js';
import { now } from './clock.js';
import { cutReplication, nextAcquisition } from './replication.js';
import { LOCK_KEY, type ScenarioContext } from './scenario.js';

/** The slot of the lock every worker contends for. */
export const LOCK_SLOT = keySlot(LOCK_KEY);
/** The lock's fencing counter (include/fence.lua): one step per acquisition. */
export const FENCE_KEY = `${LOCK_KEY}:fence`;

/** When the lock's shard was out or changing, and what happened to it. */
export interface ShardSpan {
  readonly from: number;
  readonly to: number;
  readonly what: string;
}

/**
 * A kill of the lock's master (SIGKILL at `from`, the replica serving at `to`), and what the
 * replica had when it was promoted.
 */
export interface MasterKill extends ShardSpan {
  /** The fencing counter on the replica right after the kill (null: it had none). */
  readonly replicaFence: number | null;
  readonly restartMs: number;
}

function clusterOf(context: ScenarioContext): ClusterSetup {
  if (!context.cluster) throw new Error('a Cluster fault needs a row with topology: cluster');
  return context.cluster;
}

/** A master other than `not`, drawn with the run's random numbers. */
async function otherMaster(context: ScenarioContext, not: ClusterNode): Promise<ClusterNode> {
  const others = (await clusterOf(context).masters()).filter((node) => node.id !== not.id);
  const to = others[Math.floor(context.random() * others.length)];
  if (!to) throw new Error('the Cluster has no other master');
  return to;
}

/**
 * `GET key` on a replica (after READONLY, on one fresh connection): what the replica has, which is
 * what it will serve once promoted. Bounded by 2 s.
 */
export function readOnReplica(port: number, key: string): Promise<string | null> {
  const command = (...parts: string[]) =>
    `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from the replica on port ${port} within 2 s`));
    }, 2_000);
    const done = (result: () => string | null) => {
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(result());
      } catch (error) {
        reject(error);
      }
    };
    socket.on('connect', () => socket.write(command('READONLY') + command('GET', key)));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      // "+OK\r\n" for READONLY, then "$-1\r\n", "$<n>\r\n<value>\r\n" or "-<error>\r\n".
      const match = /^\+OK\r\n(?:\$-1\r\n|\$(\d+)\r\n|(-[^\r]*)\r\n)/.exec(text);
      if (!match) {
        if (/^-/.test(text) && text.includes('\r\n')) done(() => failure(text));
        return;
      }
      if (match[2] !== undefined) done(() => failure(match[2] as string));
      else if (match[1] === undefined) done(() => null);
      else {
        const start = match[0].length;
        const length = Number(match[1]);
        if (Buffer.byteLength(text) >= start + length + 2) {
          done(() => text.slice(start, start + length));
        }
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  function failure(reply: string): never {
    throw new Error(`GET ${key} on the replica on port ${port}: ${reply.trim()}`);
  }
}

/**
 * SIGKILL of the lock's master while a worker holds; the Cluster promotes its replica (after
 * cluster-node-timeout and an election). Reads the fencing counter the replica has right after
 * the kill (what it will serve), then starts the killed node again: it rejoins as a replica of
 * the promoted one. With `unreplicated`, the replication link is cut first and the kill follows
 * the next acquisition by `afterAcquisitionMs`, so the promoted replica has never seen that
 * acquisition nor the holder's refreshes since (the asynchronous-replication loss, made certain
 * rather than left to timing).
 */
export async function killLockMaster(
  context: ScenarioContext,
  { unreplicated = false, afterAcquisitionMs = 0 } = {},
): Promise<MasterKill> {
  const cluster = clusterOf(context);
  await context.waitForHolder();
  const master = await cluster.masterOf(LOCK_SLOT);
  const replica = await cluster.replicaOf(master);
  const restore = unreplicated
    ? await cutReplication(master.server, [replica.server])
    : async () => {};
  let at: number;
  let promoted: ClusterNode;
  let fence: string | null;
  try {
    if (unreplicated) {
      if (!(await nextAcquisition(context, 10_000))) throw new Error('no acquisition within 10 s');
      await context.sleep(afterAcquisitionMs);
    }
    at = now();
    // The replica is not promoted before cluster-node-timeout has passed: what it has 100 ms
    // after the kill is what it will serve.
    [promoted, fence] = await Promise.all([
      cluster.failover(master, 'kill'),
      context.sleep(100).then(() => readOnReplica(replica.port, FENCE_KEY)),
    ]);
  } finally {
    await restore();
  }
  const until = now();
  const what = `lock master (port ${master.port}) SIGKILL, replica ${promoted.port} promoted`;
  context.record({ kind: 'redis-outage', at, until, what });
  context.injected(
    `SIGKILL of the lock's master (port ${master.port})${unreplicated ? `, its replication link cut, ${afterAcquisitionMs} ms after the next acquisition` : ''}; replica ${promoted.port} serves the slot ${Math.round(until - at)} ms later`,
  );
  const restartFrom = now();
  await cluster.restart(master);
  const restartMs = Math.round(now() - restartFrom);
  context.injected(
    `killed node (port ${master.port}) restarted, rejoined as a replica in ${restartMs} ms`,
  );
  return {
    from: at,
    to: until,
    what,
    replicaFence: fence === null ? null : Number(fence),
    restartMs,
  };
}

/**
 * Moves the lock's slot to another master (CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE of its
 * keys, SETSLOT NODE everywhere) while the workers contend, then, with `back`, to where it was.
 */
export async function migrateLockSlot(
  context: ScenarioContext,
  { back }: { back: boolean },
): Promise<ShardSpan[]> {
  const cluster = clusterOf(context);
  await context.waitForHolder();
  const from = await cluster.masterOf(LOCK_SLOT);
  const to = await otherMaster(context, from);
  const spans: ShardSpan[] = [];
  for (const [source, target] of back
    ? [
        [from, to],
        [to, from],
      ]
    : [[from, to]]) {
    if (spans.length > 0) await context.sleep(300);
    const at = now();
    await cluster.migrateSlot(LOCK_SLOT, target as ClusterNode);
    const until = now();
    const what = `slot ${LOCK_SLOT} migrated from port ${source?.port} to port ${target?.port}`;
    context.record({ kind: 'note', at: until, what });
    context.injected(`${what} in ${Math.round(until - at)} ms`);
    spans.push({ from: at, to: until, what });
  }
  return spans;
}

/**
 * CLUSTER FAILOVER on the replica of the lock's master: the master stops its clients' writes
 * until the replica has caught up, then the replica takes over and the master turns its replica.
 */
export async function manualFailover(context: ScenarioContext): Promise<ShardSpan> {
  const cluster = clusterOf(context);
  await context.waitForHolder();
  const master = await cluster.masterOf(LOCK_SLOT);
  const at = now();
  const promoted = await cluster.failover(master, 'manual');
  const until = now();
  const what = `CLUSTER FAILOVER: port ${promoted.port} replaces the lock's master (port ${master.port})`;
  context.record({ kind: 'redis-outage', at, until, what });
  context.injected(`${what} in ${Math.round(until - at)} ms`);
  return { from: at, to: until, what };
}

async function setNodeTimeout(cluster: ClusterSetup, ms: number): Promise<void> {
  for (const node of cluster.nodes) {
    if ((await node.server.command('PING').catch(() => undefined)) !== 'PONG') continue;
    const reply = await node.server.command('CONFIG', 'SET', 'cluster-node-timeout', ms);
    if (reply !== 'OK') {
      throw new Error(`CONFIG SET cluster-node-timeout on port ${node.port}: ${String(reply)}`);
    }
  }
}

/**
 * SIGSTOP of the lock's master for `ms` (100 ms after the next acquisition), then SIGCONT: the
 * clients' connections to it stay open and nothing comes back, the other shards go on. For the stop not to turn into a failover, the
 * nodes' cluster-node-timeout is raised to `nodeTimeoutMs` (> ms) for its duration, so no node
 * even flags the master as failing; it is set back 500 ms after the SIGCONT (a ping sent during
 * the stop must have had its answer, or the node flags the master at once). Throws if the slot's
 * master changed all the same: the row would not test what it says.
 */
export async function stopLockMaster(
  context: ScenarioContext,
  ms: number,
  nodeTimeoutMs: number,
): Promise<ShardSpan> {
  if (nodeTimeoutMs <= ms) throw new RangeError('the node timeout must exceed the stop');
  const cluster = clusterOf(context);
  const master = await cluster.masterOf(LOCK_SLOT);
  const before = await master.server.command('CONFIG', 'GET', 'cluster-node-timeout');
  const original = Array.isArray(before) ? Number(before[1]) : Number.NaN;
  if (!Number.isInteger(original)) throw new Error(`CONFIG GET answered ${String(before)}`);
  const thaw = () => {
    try {
      process.kill(master.server.pid, 'SIGCONT');
    } catch {}
  };
  context.onCleanup(thaw);
  await setNodeTimeout(cluster, nodeTimeoutMs);
  // A fresh holder: with critical sections longer than the stop, it is inside for all of it.
  if (!(await nextAcquisition(context, 10_000))) throw new Error('no acquisition within 10 s');
  await context.sleep(100);
  const at = now();
  try {
    process.kill(master.server.pid, 'SIGSTOP');
    await context.sleep(ms);
  } finally {
    thaw();
  }
  const until = now();
  await context.sleep(500);
  await setNodeTimeout(cluster, original);
  const what = `lock master (port ${master.port}) SIGSTOP ${ms} ms`;
  context.record({ kind: 'redis-outage', at, until, what });
  context.injected(`${what} (cluster-node-timeout ${nodeTimeoutMs} ms meanwhile)`);
  const after = await cluster.masterOf(LOCK_SLOT);
  if (after.id !== master.id) {
    throw new Error(`the lock's slot moved to port ${after.port} during the stop: a failover`);
  }
  return { from: at, to: until, what };
}

/**
 * C5: every client cut off from the lock's master (its proxy blackholes all traffic, connections
 * stay open) for `ms` right after an acquisition, then healed; what was held back is delivered
 * then, as TCP would after a partition. The Cluster itself sees nothing (its bus does not pass the
 * proxies), so there is no failover: the shard is only unreachable for the clients.
 */
export async function cutLockShard(context: ScenarioContext, ms: number): Promise<ShardSpan> {
  const cluster = clusterOf(context);
  const master = await cluster.masterOf(LOCK_SLOT);
  const proxy = context.clusterProxy(master);
  const heal = () => proxy.setMode({ kind: 'pass' });
  context.onCleanup(heal);
  // A fresh holder: with critical sections longer than the cut, it is inside for all of it.
  if (!(await nextAcquisition(context, 10_000))) throw new Error('no acquisition within 10 s');
  await context.sleep(100);
  const at = now();
  try {
    proxy.setMode({ kind: 'blackhole' });
    await context.sleep(ms);
  } finally {
    heal();
  }
  const until = now();
  const what = `every client cut off from the lock master (port ${master.port}) for ${ms} ms`;
  context.record({ kind: 'network', at, until, what });
  context.injected(what);
  return { from: at, to: until, what };
}
