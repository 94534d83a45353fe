/**
 * The faults of the Sentinel rows (S1, S1w, S2) on a primary with 2 replicas and 3 Sentinels: the
 * primary killed (SIGKILL) and a replica promoted by the Sentinels, optionally after its
 * replication links were cut; and a planned failover (SENTINEL FAILOVER) right after an
 * acquisition. Each records what it did in the fault timeline and returns when the primary was out
 * or changing, for the rows' figures. Admin commands go over fresh connections
 * (test/helpers/redis-server.ts), never through the clients under test; every wait is bounded.
 */

import type { SentinelSetup } from '../helpers/redis-sentinel.js';
import type { RedisServer, RespValue } from '../helpers/redis-server.js';
import { now } from './clock.js';
import type { MasterKill, ShardSpan } from './cluster-faults.js';
import { FENCE_KEY } from './cluster-faults.js';
import { cutReplication, nextAcquisition } from './replication.js';
import type { ScenarioContext } from './scenario.js';

/** How often a planned failover's progress is looked at. */
const POLL_MS = 20;
/** The longest a planned failover may take to demote the old primary. */
const FAILOVER_MS = 30_000;

export interface PrimaryKillOptions {
  /** Cut the replicas' links first, then kill `afterAcquisitionMs` after the next acquisition. */
  readonly unreplicated?: boolean;
  readonly afterAcquisitionMs?: number;
  /** The longest the next acquisition is waited for (with `replicas` none may come). */
  readonly acquisitionWaitMs?: number;
}

/** A kill of the primary; `to` is when every Sentinel names the promoted replica, which serves. */
export interface PrimaryKill extends MasterKill {
  readonly unreplicated: boolean;
  /** Whether an acquisition came between the cut and the kill (only with `unreplicated`). */
  readonly acquiredWhileCut: boolean;
}

/**
 * A planned failover: `from` when SENTINEL FAILOVER was sent, `to` when the old primary turned
 * replica (its writes since the promotion discarded, its clients' connections closed).
 */
export interface PlannedFailover extends ShardSpan {
  /** When the chosen replica took writes, and when every Sentinel named it. */
  readonly promotedAt: number;
  readonly switchedAt: number;
  /** The last fencing token on the chosen replica when it took writes, and on the old primary then. */
  readonly promotedFence: number | null;
  readonly oldPrimaryFence: number | null;
  /** The same on the old primary just before it turned replica: what the demotion threw away. */
  readonly oldPrimaryFenceAtDemotion: number | null;
}

function sentinelOf(context: ScenarioContext): SentinelSetup {
  if (!context.sentinel) throw new Error('a Sentinel fault needs a row with topology: sentinel');
  return context.sentinel;
}

function asFence(reply: RespValue | undefined): number | null {
  return typeof reply === 'string' ? Number(reply) : null;
}

async function fenceOn(server: RedisServer): Promise<number | null> {
  return asFence(await server.command('GET', FENCE_KEY).catch(() => undefined));
}

async function role(server: RedisServer): Promise<string> {
  const reply = await server.command('ROLE').catch(() => undefined);
  return Array.isArray(reply) ? String(reply[0]) : 'down';
}

/**
 * SIGKILL of the primary while a worker holds; the Sentinels promote a replica (after
 * down-after-milliseconds and an election). Reads the fencing counter each replica has right
 * after the kill (what the promoted one will serve), then starts the killed server again as a
 * replica of the new primary. With `unreplicated`, the replicas' links are cut first and the kill
 * follows the next acquisition by `afterAcquisitionMs` (or comes once none came within
 * `acquisitionWaitMs`), so the promoted replica has seen neither that acquisition nor anything the
 * primary did since the cut.
 */
export async function killPrimary(
  context: ScenarioContext,
  {
    unreplicated = false,
    afterAcquisitionMs = 0,
    acquisitionWaitMs = 10_000,
  }: PrimaryKillOptions = {},
): Promise<PrimaryKill> {
  const setup = sentinelOf(context);
  await context.waitForHolder();
  const primary = await setup.primary();
  const replicas = setup.servers.filter((server) => server !== primary);
  const restore = unreplicated ? await cutReplication(primary, replicas) : async () => {};
  let acquiredWhileCut = false;
  let at: number;
  let fences: (number | null)[];
  try {
    if (unreplicated) {
      acquiredWhileCut = await nextAcquisition(context, acquisitionWaitMs);
      await context.sleep(afterAcquisitionMs);
    }
    at = now();
    process.kill(primary.pid, 'SIGKILL');
    // No replica is promoted before down-after-milliseconds (1 s): what each has now is what it
    // will serve.
    fences = await Promise.all(replicas.map(fenceOn));
  } finally {
    await restore();
  }
  const promoted = await setup.promotedAfter(primary);
  const until = now();
  const what = `primary (port ${primary.port}) SIGKILL, replica ${promoted.port} promoted`;
  context.record({ kind: 'redis-outage', at, until, what });
  context.injected(
    `SIGKILL of the primary (port ${primary.port})${unreplicated ? `, the replicas' links cut, ${acquiredWhileCut ? `${afterAcquisitionMs} ms after the next acquisition` : `no acquisition in ${acquisitionWaitMs} ms`}` : ''}; every Sentinel names replica ${promoted.port} ${Math.round(until - at)} ms later`,
  );
  const restartFrom = now();
  await setup.restart(primary);
  const restartMs = Math.round(now() - restartFrom);
  context.injected(
    `killed server (port ${primary.port}) restarted as a replica in ${restartMs} ms`,
  );
  return {
    from: at,
    to: until,
    what,
    replicaFence: fences[replicas.indexOf(promoted)] ?? null,
    restartMs,
    unreplicated,
    acquiredWhileCut,
  };
}

/** Sends SENTINEL FAILOVER until a Sentinel takes it (one may still be busy with the last). */
async function askForFailover(setup: SentinelSetup): Promise<number> {
  const deadline = now() + FAILOVER_MS;
  for (;;) {
    const [sentinel] = setup.sentinels;
    if (!sentinel) throw new Error('the set-up has no Sentinel');
    const sentAt = now();
    const reply = await sentinel.command('SENTINEL', 'FAILOVER', setup.name);
    if (!(reply instanceof Error)) return sentAt;
    if (now() > deadline) throw new Error(`SENTINEL FAILOVER kept answering ${reply.message}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Polls `check` every POLL_MS until it is true; the time it first was. */
async function when(what: string, check: () => Promise<boolean>, deadline: number) {
  for (;;) {
    if (await check()) return now();
    if (now() > deadline) throw new Error(`planned failover: ${what} not within ${FAILOVER_MS} ms`);
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

/**
 * SENTINEL FAILOVER right after the next acquisition. Sentinel promotes a replica without waiting
 * for it to catch up, and turns the old primary (which keeps taking writes meanwhile) into a
 * replica only some seconds later; this follows each step: the replica taking writes, every
 * Sentinel naming it, the old primary turned replica. Reads the fencing counter on both sides at
 * the promotion and on the old primary just before its demotion.
 */
export async function plannedFailover(context: ScenarioContext): Promise<PlannedFailover> {
  const setup = sentinelOf(context);
  const old = await setup.primary();
  if (!(await nextAcquisition(context, 10_000))) throw new Error('no acquisition within 10 s');
  const from = await askForFailover(setup);
  const deadline = from + FAILOVER_MS;
  let promoted: RedisServer | undefined;
  const promotedAt = await when(
    'a replica takes writes',
    async () => {
      for (const server of setup.servers) {
        if (server !== old && (await role(server)) === 'master') promoted = server;
      }
      return promoted !== undefined;
    },
    deadline,
  );
  const chosen = promoted as RedisServer;
  const [promotedFence, oldPrimaryFence] = await Promise.all([fenceOn(chosen), fenceOn(old)]);
  const switchedAt = await when(
    'every Sentinel names the new primary',
    async () => (await setup.primary().catch(() => old)) === chosen,
    deadline,
  );
  let lastFence: number | null = oldPrimaryFence;
  const to = await when(
    'the old primary turns replica',
    async () => {
      if ((await role(old)) !== 'master') return true;
      lastFence = await fenceOn(old);
      return false;
    },
    deadline,
  );
  const what = `SENTINEL FAILOVER: port ${chosen.port} replaces the primary (port ${old.port})`;
  context.record({ kind: 'note', at: promotedAt, what: `${what}: the replica takes writes` });
  // Not an outage: both took writes until the old primary's demotion closed its connections.
  context.record({ kind: 'network', at: to, until: to, what: `${what}: the old primary demoted` });
  const after = (at: number) => Math.round(at - from);
  context.injected(
    `${what}; it takes writes ${after(promotedAt)} ms after the command, every Sentinel names it at ${after(switchedAt)} ms, the old primary turns replica at ${after(to)} ms`,
  );
  return {
    from,
    to,
    what,
    promotedAt,
    switchedAt,
    promotedFence,
    oldPrimaryFence,
    oldPrimaryFenceAtDemotion: lastFence,
  };
}
