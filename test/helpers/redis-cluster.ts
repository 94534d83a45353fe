/**
 * A Redis Cluster on loopback for tests: three masters with one replica each (by default), every
 * node a `redis-server` on a free port with its cluster bus on another free port, stopped by pid.
 * Nodes call a silent peer failing after NODE_TIMEOUT_MS, so a killed master's replica takes over
 * within a few seconds. The nodes' cluster config files live in the set-up's own directory, not in
 * the servers' directories, so a stopped node restarts with its identity and rejoins.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type RedisServer,
  type RespValue,
  type ServerTls,
  startRedis,
} from './redis-server.js';
import { outgoingTlsArgs, serverTls, type TestCertificates } from './tls-certs.js';

const MASTERS = 3;
const SLOTS = 16_384;
/** How long a node must stay silent before its peers call it failing. */
const NODE_TIMEOUT_MS = 1_000;
/** The longest the set-up, a migration, a failover or a restart may take to settle. */
const SETTLE_MS = 20_000;
/** The longest `redis-cli --cluster create` may run. */
const CREATE_MS = 30_000;
/** How long a manual failover may take before CLUSTER FAILOVER is sent again. */
const MANUAL_FAILOVER_MS = 6_000;
/** Keys moved by one MIGRATE. */
const MIGRATE_BATCH = 100;

export interface ClusterNode {
  /** The node's server now: `restart` replaces it with one on the same port. */
  readonly server: RedisServer;
  readonly port: number;
  /** The node's id (CLUSTER MYID), kept across restarts. */
  readonly id: string;
}

export interface ClusterSetup {
  /** Every node, in the order `redis-cli --cluster create` was given them (masters first). */
  readonly nodes: readonly ClusterNode[];
  /** The nodes the cluster calls masters now (not failing), in `nodes` order. */
  masters(): Promise<ClusterNode[]>;
  /** The node that serves `slot` now. */
  masterOf(slot: number): Promise<ClusterNode>;
  /** A replica of `master` that is not failing. */
  replicaOf(master: ClusterNode): Promise<ClusterNode>;
  /**
   * Moves `slot` from its owner to `to`: CLUSTER SETSLOT IMPORTING on `to` and MIGRATING on the
   * owner, MIGRATE of its keys in batches, then SETSLOT NODE on `to`, the owner and the other
   * masters. Resolves when every node agrees that `to` serves the slot.
   */
  migrateSlot(slot: number, to: ClusterNode): Promise<void>;
  /**
   * Replaces `master` by its replica: `'manual'` sends CLUSTER FAILOVER to the replica, which
   * takes over with the master's agreement (the master turns replica of it); `'kill'` kills the
   * master (SIGKILL) and lets the cluster promote the replica. Resolves with the new master once
   * every running node agrees on the slots and says `cluster_state:ok`.
   * @default how 'manual'
   */
  failover(master: ClusterNode, how?: 'manual' | 'kill'): Promise<ClusterNode>;
  /**
   * Starts `node` again (stopping it first if it runs) on the same port with the same cluster
   * config file; resolves when it has rejoined and, as a replica, is in sync.
   */
  restart(node: ClusterNode): Promise<void>;
  /** Stops every node and removes the set-up's directory. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** @default 1 */
  readonly replicasPerMaster?: number;
  /**
   * TLS only, with these certificates: clients (which must present the client certificate), the
   * cluster bus and replication all on TLS, no plain port open.
   */
  readonly tls?: TestCertificates;
}

/** How the nodes of a TLS cluster are started, and how redis-cli reaches them. */
interface NodeTls {
  readonly server: ServerTls;
  /** Arguments beyond the server's TLS port: the bus and replication over TLS too. */
  readonly args: readonly string[];
  /** redis-cli's TLS options. */
  readonly cli: readonly string[];
}

/** The cluster bus on TLS too, besides replication; redis-cli with the client certificate. */
function nodeTls(certificates: TestCertificates): NodeTls {
  return {
    server: serverTls(certificates),
    args: ['--tls-cluster', 'yes', ...outgoingTlsArgs(certificates)],
    cli: [
      '--tls',
      '--cacert',
      certificates.caFile,
      '--cert',
      certificates.clientCertFile,
      '--key',
      certificates.clientKeyFile,
    ],
  };
}

class Node implements ClusterNode {
  constructor(
    public server: RedisServer,
    readonly busPort: number,
    readonly id: string,
  ) {}
  get port(): number {
    return this.server.port;
  }
}

const directories = new Set<string>();
process.once('exit', () => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

export async function startCluster(options: ClusterOptions = {}): Promise<ClusterSetup> {
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new TypeError(`\`replicasPerMaster\` must be an integer >= 0, got ${replicasPerMaster}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cluster-'));
  directories.add(dir);
  const tls = options.tls && nodeTls(options.tls);
  const started = await Promise.allSettled(
    Array.from({ length: MASTERS * (1 + replicasPerMaster) }, () => startNode(dir, tls)),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const cluster = setup(dir, nodes, tls);
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    await createCluster(nodes, replicasPerMaster, tls);
    await settle(nodes, 'the cluster is created');
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Starts one cluster node on `port` (a free one if not given), its bus on `busPort`. */
async function startNode(
  dir: string,
  tls: NodeTls | undefined,
  port?: number,
  busPort?: number,
): Promise<Node> {
  for (let attempt = 1; ; attempt++) {
    const nodePort = port ?? (await freePort());
    const nodeBusPort = busPort ?? (await freePort());
    try {
      if (nodeBusPort === nodePort) throw new Error(`port ${nodePort} drawn twice`);
      const server = await startRedis({
        port: nodePort,
        ...(tls && { tls: tls.server }),
        args: [
          ...(tls?.args ?? []),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${nodePort}.conf`),
          '--cluster-port',
          String(nodeBusPort),
          '--cluster-node-timeout',
          String(NODE_TIMEOUT_MS),
          // A master waits 5 s by default before a full sync, for more replicas to share it.
          '--repl-diskless-sync-delay',
          '0',
        ],
      });
      const id = await server.command('CLUSTER', 'MYID');
      if (typeof id !== 'string') {
        await server.stop();
        throw new Error(`CLUSTER MYID on port ${nodePort} answered ${String(id)}`);
      }
      return new Node(server, nodeBusPort, id);
    } catch (error) {
      // Another process may have taken a port between our probe and the server's bind.
      if (port !== undefined || attempt >= 5) throw error;
    }
  }
}

async function createCluster(
  nodes: readonly Node[],
  replicasPerMaster: number,
  tls: NodeTls | undefined,
): Promise<void> {
  const args = [
    ...(tls?.cli ?? []),
    '--cluster',
    'create',
    ...nodes.map((node) => `127.0.0.1:${node.port}`),
    '--cluster-replicas',
    String(replicasPerMaster),
    '--cluster-yes',
  ];
  await new Promise<void>((resolve, reject) => {
    execFile('redis-cli', args, { timeout: CREATE_MS }, (error, stdout, stderr) =>
      error
        ? reject(
            new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout}${stderr}`),
          )
        : resolve(),
    );
  });
}

function setup(dir: string, nodes: readonly Node[], tls: NodeTls | undefined): ClusterSetup {
  const byPort = (port: number): Node => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`the cluster names an unknown node on port ${port}`);
    return node;
  };
  const byId = (id: string): Node => {
    const node = nodes.find((candidate) => candidate.id === id);
    if (!node) throw new Error(`the cluster names an unknown node ${id}`);
    return node;
  };
  /** Sends a command to the first node that answers (stopped nodes refuse the connection). */
  const ask = async (...command: (string | number)[]): Promise<RespValue> => {
    for (const node of nodes) {
      let reply: RespValue;
      try {
        reply = await node.server.command(...command);
      } catch {
        continue;
      }
      if (reply instanceof Error) throw new Error(`${command.join(' ')}: ${reply.message}`);
      return reply;
    }
    throw new Error('no cluster node answers');
  };

  return {
    nodes,
    async masters() {
      const masters = parseNodes(await ask('CLUSTER', 'NODES')).filter(
        (line) => line.flags.includes('master') && !isFailing(line),
      );
      return nodes.filter((node) => masters.some((line) => line.id === node.id));
    },
    async masterOf(slot) {
      const owner = slotOwners(await ask('CLUSTER', 'SLOTS'))[slot];
      if (owner === undefined) throw new Error(`no node serves slot ${slot}`);
      return byPort(owner);
    },
    async replicaOf(master) {
      const replica = parseNodes(await ask('CLUSTER', 'REPLICAS', master.id)).find(
        (line) => !isFailing(line),
      );
      if (!replica) throw new Error(`the master on port ${master.port} has no working replica`);
      return byId(replica.id);
    },
    async migrateSlot(slot, to) {
      const from = (await this.masterOf(slot)) as Node;
      if (from === to) return;
      await expectOk(to.server, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
      await expectOk(from.server, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
      const deadline = Date.now() + SETTLE_MS;
      for (;;) {
        const keys = await from.server.command('CLUSTER', 'GETKEYSINSLOT', slot, MIGRATE_BATCH);
        if (!Array.isArray(keys)) throw new Error(`CLUSTER GETKEYSINSLOT answered ${String(keys)}`);
        if (keys.length === 0) break;
        if (Date.now() > deadline) {
          throw new Error(`Cluster set-up: slot ${slot} not emptied within ${SETTLE_MS} ms`);
        }
        const reply = await from.server.command(
          'MIGRATE',
          '127.0.0.1',
          to.port,
          '',
          0,
          5_000,
          'KEYS',
          ...keys.map(String),
        );
        if (reply instanceof Error) throw new Error(`MIGRATE of slot ${slot}: ${reply.message}`);
      }
      // The new owner first, then the old one, then the rest: the order the Redis docs give.
      const others = (await this.masters()).filter((node) => node !== to && node !== from);
      for (const node of [to, from, ...others]) {
        await expectOk(node.server, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      }
      await settle(nodes, `every node says port ${to.port} serves slot ${slot}`, async (node) => {
        const owner = slotOwners(await node.server.command('CLUSTER', 'SLOTS'))[slot];
        return owner === to.port || `node ${node.port} says port ${owner} serves slot ${slot}`;
      });
    },
    async failover(master, how = 'manual') {
      const replica = await this.replicaOf(master);
      if (how === 'kill') {
        process.kill(master.server.pid, 'SIGKILL');
        await master.server.stop();
      } else {
        let sentAt = 0;
        await until(`the replica on port ${replica.port} takes over`, async () => {
          if (isRole(await replica.server.command('ROLE'), 'master')) return true;
          if (Date.now() - sentAt > MANUAL_FAILOVER_MS) {
            // A manual failover that does not finish in time is abandoned; ask again.
            await expectOk(replica.server, 'CLUSTER', 'FAILOVER');
            sentAt = Date.now();
          }
          return 'not yet master';
        });
      }
      await settle(nodes, `port ${replica.port} replaces port ${master.port}`, async (node) =>
        node === replica
          ? isRole(await node.server.command('ROLE'), 'master') || 'not yet master'
          : true,
      );
      return replica;
    },
    async restart(node) {
      const stopped = node as Node;
      await stopped.server.stop();
      const restarted = await startNode(dir, tls, stopped.port, stopped.busPort);
      if (restarted.id !== stopped.id) {
        await restarted.server.stop();
        throw new Error(`node on port ${stopped.port} came back as ${restarted.id}`);
      }
      stopped.server = restarted.server;
      await settle(nodes, `port ${stopped.port} rejoins`);
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.server.stop()));
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    },
  };
}

/**
 * Waits until the running nodes (those that answer PING) agree: each says `cluster_state:ok`,
 * knows every running node as connected and not failing and every stopped one as failing, gives
 * the same CLUSTER SLOTS as the others, and, as a replica, has its link to its master up. `extra`
 * adds a condition per running node (true, or why not yet).
 */
async function settle(
  nodes: readonly Node[],
  what: string,
  extra: (node: Node) => Promise<true | string> = async () => true,
): Promise<void> {
  await until(what, async () => {
    const answers = await Promise.all(
      nodes.map((node) => node.server.command('PING').catch(() => undefined)),
    );
    const running = nodes.filter((_, i) => answers[i] === 'PONG');
    let slots: string | undefined;
    for (const node of running) {
      const info = String(await node.server.command('CLUSTER', 'INFO'));
      if (!/^cluster_state:ok\r?$/m.test(info)) return `node ${node.port} is not ok`;
      const known = parseNodes(await node.server.command('CLUSTER', 'NODES'));
      for (const other of nodes) {
        const line = known.find((candidate) => candidate.id === other.id);
        if (!running.includes(other)) {
          if (line && !line.flags.includes('fail')) {
            return `node ${node.port} has not seen port ${other.port} fail`;
          }
        } else if (!line || isFailing(line) || line.link !== 'connected') {
          return `node ${node.port} does not see port ${other.port} up`;
        }
      }
      const view = normalizeSlots(await node.server.command('CLUSTER', 'SLOTS'));
      slots ??= view;
      if (view !== slots) return `node ${node.port} has another slot map`;
      const role = await node.server.command('ROLE');
      if (isRole(role, 'slave') && Array.isArray(role) && role[3] !== 'connected') {
        return `replica ${node.port} is not in sync`;
      }
      const more = await extra(node);
      if (more !== true) return more;
    }
    return true;
  });
}

/** Retries `check` until it returns true; anything else (or a throw) says why not yet. */
async function until(what: string, check: () => Promise<true | string>): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    let why: string;
    try {
      const result = await check();
      if (result === true) return;
      why = result;
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`Cluster set-up: ${what}: not within ${SETTLE_MS} ms (${why})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface NodeLine {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  readonly link: string;
}

/** Parses CLUSTER NODES (or CLUSTER REPLICAS) lines: `<id> <ip:port@cport> <flags> … <link> …`. */
function parseNodes(reply: RespValue): NodeLine[] {
  const lines = Array.isArray(reply) ? reply.map(String) : String(reply).split('\n');
  return lines
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', , , , , link = ''] = line.trim().split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: flags.split(','),
        link,
      };
    });
}

function isFailing(line: NodeLine): boolean {
  return line.flags.some((flag) => ['fail', 'fail?', 'handshake', 'noaddr'].includes(flag));
}

/** CLUSTER SLOTS as the port serving each slot. */
function slotOwners(reply: RespValue): (number | undefined)[] {
  const owners = new Array<number | undefined>(SLOTS).fill(undefined);
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS answered ${String(reply)}`);
  for (const range of reply) {
    if (!Array.isArray(range)) continue;
    const [start, end, master] = range;
    const port = Array.isArray(master) ? Number(master[1]) : undefined;
    owners.fill(port, Number(start), Number(end) + 1);
  }
  return owners;
}

/** CLUSTER SLOTS as text that does not depend on the order a node lists replicas in. */
function normalizeSlots(reply: RespValue): string {
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS answered ${String(reply)}`);
  const ranges = reply.map((range) => {
    if (!Array.isArray(range)) return String(range);
    const [start, end, master, ...replicas] = range.map((part) =>
      Array.isArray(part) ? `${part[2]}@${part[1]}` : String(part),
    );
    return `${start}-${end}:${master}[${replicas.sort().join(',')}]`;
  });
  return ranges.sort().join(' ');
}

function isRole(reply: RespValue, role: string): boolean {
  return Array.isArray(reply) && reply[0] === role;
}

async function expectOk(server: RedisServer, ...command: (string | number)[]): Promise<void> {
  const reply = await server.command(...command);
  if (reply !== 'OK') {
    throw new Error(
      `${command.join(' ')} on port ${server.port}: ${reply instanceof Error ? reply.message : String(reply)}`,
    );
  }
}

/** The library's slot function; the harness test checks it against CLUSTER KEYSLOT. */
export { keySlot } from '../../src/backends/redis/key-slot.js';
