/**
 * Scenario 10, Redis Cluster: the libraries that run on a Cluster (through their client's cluster
 * mode), on real clusters this harness starts on loopback.
 *
 * - Many keys (as scenario 3) on a one-master cluster and on a three-master cluster (each master
 *   with a replica): what adding masters does to throughput when every task has its own key.
 * - Contended (as scenario 2) on the three-master cluster: C processes on one key.
 * - Pub/sub per hand-over, per node: after each contended window, every node's PUBLISH and
 *   SPUBLISH calls, to show that a hand-over's message stays on the lock's shard.
 *
 * The two clusters run one after the other; the libraries alternate as in scenarios 2 and 3.
 */
import { keySlot } from '../../src/backends/redis/key-slot.js';
import { clusterSuiteServer } from '../../test/helpers/cluster-suite-server.js';
import { type ClusterNode, startCluster } from '../../test/helpers/redis-cluster.js';
import { type RedisServer, startRedis } from '../../test/helpers/redis-server.js';
import { type BenchContext, rotated } from '../context.js';
import { CLUSTER_SCHEME } from '../libs/connections.js';
import type { LibraryId } from '../libs/index.js';
import { ServerStats, totalCalls } from '../redis-stats.js';
import { per } from '../stats.js';
import { contendOnce } from './contended.js';
import { analyzeContended, type ContendedFigures } from './contended-analysis.js';
import { runSingleProcessScenarios } from './single-process.js';

export interface ClusterManyKeys {
  readonly lib: LibraryId;
  readonly masters: number;
  readonly opsPerSec: number;
  readonly errors: number;
}

export interface ClusterContended extends ContendedFigures {
  readonly lib: LibraryId;
  readonly contenders: number;
  /** All commands the cluster's nodes ran per acquisition, scripts' commands included. */
  readonly commandsPerAcquisition: number;
  /**
   * PUBLISH and SPUBLISH calls per acquisition on each node, the master of the key's slot first
   * (the slot of latchkey's keys; other libraries may add a prefix of their own to the key).
   */
  readonly pubsubPerNode: readonly NodePubSub[];
}

export interface NodePubSub {
  readonly port: number;
  readonly role: 'lock master' | 'master' | 'replica';
  readonly publishPerAcquisition: number;
  readonly spublishPerAcquisition: number;
}

export interface ClusterResult {
  readonly manyKeys: readonly ClusterManyKeys[];
  readonly contended: readonly ClusterContended[];
}

/** What the scenario needs of a cluster: its nodes, by role, and the master of a slot. */
interface RunningCluster {
  readonly seed: RedisServer;
  masters(): Promise<readonly { readonly server: RedisServer }[]>;
  all(): readonly { readonly server: RedisServer }[];
  masterOf(slot: number): Promise<{ readonly server: RedisServer }>;
  stop(): Promise<void>;
}

export async function runCluster(
  context: BenchContext,
  libs: readonly LibraryId[],
): Promise<ClusterResult> {
  const manyKeys: ClusterManyKeys[] = [];
  const contended: ClusterContended[] = [];
  for (const masters of [1, 3]) {
    context.log(`cluster: ${masters} master(s)`);
    const cluster = masters === 1 ? await startOneNodeCluster() : await threeMasters();
    try {
      const lockServer = clusterLockServer(cluster);
      const clusterContext: BenchContext = {
        ...context,
        libs,
        lockServer,
        stats: new ServerStats(lockServer),
      };
      const { manyKeys: summary } = await runSingleProcessScenarios(clusterContext, {
        uncontended: false,
        manyKeys: true,
      });
      for (const lib of libs) {
        const figures = summary[lib];
        if (figures) manyKeys.push({ lib, masters, ...figures });
      }
      if (masters === 3) contended.push(...(await contend(clusterContext, cluster)));
    } finally {
      await cluster.stop();
    }
  }
  return { manyKeys, contended };
}

async function contend(
  context: BenchContext,
  cluster: RunningCluster,
): Promise<ClusterContended[]> {
  const out: ClusterContended[] = [];
  const { contenders: counts, durationMs } = context.config.cluster;
  for (const [round, contenders] of counts.entries()) {
    for (const lib of rotated(context.libs, round)) {
      context.log(`cluster contended: C=${contenders} ${lib}`);
      const { results, snapshot, windowUs } = await contendOnce(
        context,
        lib,
        contenders,
        durationMs,
        'cluster',
      );
      const figures = analyzeContended(results, windowUs);
      const perAcquisition = per(figures.acquisitions);
      out.push({
        lib,
        contenders,
        ...figures,
        commandsPerAcquisition: perAcquisition(totalCalls(snapshot.calls)),
        pubsubPerNode: await pubsubPerNode(cluster, lib, contenders, figures.acquisitions),
      });
    }
  }
  return out;
}

/** Each node's PUBLISH and SPUBLISH calls since contendOnce reset the counters, per acquisition. */
async function pubsubPerNode(
  cluster: RunningCluster,
  lib: LibraryId,
  contenders: number,
  acquisitions: number,
): Promise<NodePubSub[]> {
  // The key contendOnce used; latchkey's keys carry it as their hash tag, so it names the slot.
  const key = `bench:contended:cluster:${lib}:${contenders}`;
  const lockMaster = (await cluster.masterOf(keySlot(key))).server.port;
  const masters = new Set((await cluster.masters()).map(({ server }) => server.port));
  const perAcquisition = per(acquisitions);
  const nodes: NodePubSub[] = [];
  for (const { server } of cluster.all()) {
    const info = String(await server.command('INFO', 'commandstats'));
    const calls = (command: string) =>
      Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    nodes.push({
      port: server.port,
      role:
        server.port === lockMaster
          ? 'lock master'
          : masters.has(server.port)
            ? 'master'
            : 'replica',
      publishPerAcquisition: perAcquisition(calls('publish')),
      spublishPerAcquisition: perAcquisition(calls('spublish')),
    });
  }
  const order = { 'lock master': 0, master: 1, replica: 2 } as const;
  return nodes.sort((a, b) => order[a.role] - order[b.role]);
}

/** The harness's lock server, for a cluster: commands routed (and INFO added up) over its nodes. */
function clusterLockServer(cluster: RunningCluster): RedisServer {
  const url = `${CLUSTER_SCHEME}//${cluster.seed.host}:${cluster.seed.port}`;
  const suite = clusterSuiteServer(cluster, url);
  return {
    host: cluster.seed.host,
    port: cluster.seed.port,
    url,
    pid: cluster.seed.pid,
    command: (...args) => suite.command(...args) as ReturnType<RedisServer['command']>,
    stop: () => cluster.stop(),
  };
}

async function threeMasters(): Promise<RunningCluster> {
  const cluster = await startCluster();
  const [first] = await cluster.masters();
  if (!first) throw new Error('the cluster has no master');
  return {
    seed: first.server,
    masters: () => cluster.masters(),
    all: () => cluster.nodes,
    masterOf: (slot) => cluster.masterOf(slot),
    stop: () => cluster.stop(),
  };
}

/** A cluster of one master serving every slot (`redis-cli --cluster create` wants three). */
async function startOneNodeCluster(): Promise<RunningCluster> {
  const server = await startRedis({
    // A node that never met another does not know its address: CLUSTER SLOTS would name "".
    args: [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-announce-ip',
      '127.0.0.1',
    ],
  });
  try {
    await server.command('CLUSTER', 'ADDSLOTSRANGE', 0, 16_383);
    const deadline = performance.now() + 20_000;
    while (!/cluster_state:ok/.test(String(await server.command('CLUSTER', 'INFO')))) {
      if (performance.now() > deadline) throw new Error('the one-node cluster did not come up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  const node: ClusterNode = { server, port: server.port, id: '' };
  return {
    seed: server,
    masters: async () => [node],
    all: () => [node],
    masterOf: async () => node,
    stop: () => server.stop(),
  };
}
