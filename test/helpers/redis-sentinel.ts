/**
 * A Sentinel set-up on loopback for tests: one primary, two replicas and three `redis-sentinel`
 * processes watching them, each on a free port and stopped by pid. Sentinel is told to consider a
 * primary down after DOWN_AFTER_MS, so a killed primary is replaced within a few seconds. With
 * `tls`, every process listens on its TLS port only and every link between them is TLS too.
 */
import { type RedisServer, type RespValue, type ServerTls, startRedis } from './redis-server.js';
import { outgoingTlsArgs, serverTls, type TestCertificates } from './tls-certs.js';

export const SENTINEL_NAME = 'latchkey-primary';
/** How long a primary must stay silent before a Sentinel calls it down (by default). */
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 10_000;
/** The longest the set-up, or a failover, may take to settle. */
const SETTLE_MS = 30_000;

export interface SentinelSetup {
  readonly name: string;
  readonly sentinels: readonly RedisServer[];
  /** The data servers, the first primary first. */
  readonly servers: readonly RedisServer[];
  /** The data server every Sentinel names as primary now. */
  primary(): Promise<RedisServer>;
  /**
   * Has the Sentinels promote a replica (`SENTINEL FAILOVER`) and waits until every Sentinel names
   * it, it takes writes and the old primary replicates from it. Returns the new primary.
   */
  failover(): Promise<RedisServer>;
  /**
   * Waits until every Sentinel names another primary than `old` and it takes writes (after `old`
   * was killed, say). Returns the new primary.
   */
  promotedAfter(old: RedisServer): Promise<RedisServer>;
  /**
   * Starts a data server that was killed again on its port, as a replica of the primary the
   * Sentinels name, and waits until its link is up. `servers` names the new process from then on.
   * The Sentinels still list the address (as a replica since their failover), so they count it.
   */
  restart(killed: RedisServer): Promise<RedisServer>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  /**
   * How long the primary must stay silent before the Sentinels call it down. The default is short
   * for failover tests; a suite that pauses the primary (CLIENT PAUSE) needs it longer than that.
   */
  readonly downAfterMs?: number;
  /**
   * TLS only, with these certificates: the data servers and the Sentinels listen on their TLS port
   * alone and require the client certificate; replication and the Sentinels' own links (to the
   * data servers and to each other) go over TLS as well, presenting the client certificate.
   */
  readonly tls?: TestCertificates;
}

/** How every process of a TLS set-up is started. */
interface NodeTls {
  /** Its TLS port (with the plain one closed), as startRedis takes it. */
  readonly server: ServerTls;
  /**
   * TLS for the links it opens itself: a replica to its primary, a Sentinel to the data servers
   * and to the other Sentinels (Sentinel takes `tls-replication` to mean all of those). It shows
   * the client certificate: the server certificate's key usage says server only.
   */
  readonly args: readonly string[];
}

function nodeTls(certificates: TestCertificates): NodeTls {
  return { server: serverTls(certificates), args: outgoingTlsArgs(certificates) };
}

/** Starts a data server, a replica of `primary` if given. */
async function startDataServer(
  tls: NodeTls | undefined,
  primary?: { readonly host: string; readonly port: number },
  port?: number,
): Promise<RedisServer> {
  const replicaOf = primary ? ['--replicaof', primary.host, String(primary.port)] : [];
  return await startRedis({
    ...(port !== undefined && { port }),
    ...(tls && { tls: tls.server }),
    args: [...(tls?.args ?? []), ...replicaOf],
  });
}

export async function startSentinelSetup(options: SentinelOptions = {}): Promise<SentinelSetup> {
  const tls = options.tls && nodeTls(options.tls);
  const started: RedisServer[] = [];
  try {
    const first = await startDataServer(tls);
    started.push(first);
    for (let i = 0; i < 2; i++) {
      started.push(await startDataServer(tls, first));
    }
    const servers = [...started];
    await until('replicas in sync', async () => {
      const links = await Promise.all(
        servers.slice(1).map((s) => s.command('INFO', 'replication')),
      );
      return links.every((info) => /master_link_status:up/.test(String(info)));
    });
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startRedis({
        sentinelConfig: [
          `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${first.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_NAME} ${options.downAfterMs ?? DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
        ],
        ...(tls && { tls: tls.server, args: tls.args }),
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Sentinels find the replicas and each other through the primary (hello messages every 2 s);
    // until they have, a failover could not gather its majority.
    await until('sentinels know the replicas and each other', async () => {
      for (const sentinel of sentinels) {
        const replicas = await sentinel.command('SENTINEL', 'REPLICAS', SENTINEL_NAME);
        const peers = await sentinel.command('SENTINEL', 'SENTINELS', SENTINEL_NAME);
        if (!Array.isArray(replicas) || replicas.length !== 2) return false;
        if (!Array.isArray(peers) || peers.length !== 2) return false;
      }
      return true;
    });
    return setup(servers, sentinels, tls);
  } catch (error) {
    await Promise.all(started.map((server) => server.stop()));
    throw error;
  }
}

function setup(
  servers: RedisServer[],
  sentinels: RedisServer[],
  tls: NodeTls | undefined,
): SentinelSetup {
  // restart() swaps a server in place, so the index of each data server stays its identity.
  const primaryPort = async (sentinel: RedisServer): Promise<number | undefined> => {
    const address = await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME);
    return Array.isArray(address) ? Number(address[1]) : undefined;
  };
  const byPort = (port: number | undefined) => servers.find((server) => server.port === port);
  return {
    name: SENTINEL_NAME,
    sentinels,
    servers,
    async primary() {
      const port = await primaryPort(sentinels[0] as RedisServer);
      const server = byPort(port);
      if (!server) throw new Error(`Sentinel names an unknown primary on port ${port}`);
      return server;
    },
    async failover() {
      const old = await this.primary();
      await until('the Sentinel accepts the failover', async () => {
        const reply = await (sentinels[0] as RedisServer).command(
          'SENTINEL',
          'FAILOVER',
          SENTINEL_NAME,
        );
        return !(reply instanceof Error);
      });
      const promoted = await this.promotedAfter(old);
      await until('the old primary replicates from the new one', async () =>
        isRole(await old.command('ROLE'), 'slave'),
      );
      return promoted;
    },
    async promotedAfter(old) {
      let promoted: RedisServer | undefined;
      await until('every Sentinel names the new primary, which takes writes', async () => {
        const ports = await Promise.all(sentinels.map(primaryPort));
        if (ports.some((port) => port === old.port || port !== ports[0])) return false;
        promoted = byPort(ports[0]);
        return promoted !== undefined && isRole(await promoted.command('ROLE'), 'master');
      });
      return promoted as RedisServer;
    },
    async restart(killed) {
      const index = servers.indexOf(killed);
      if (index < 0) throw new Error(`port ${killed.port} is not a data server of this set-up`);
      const primary = await this.primary();
      if (primary === killed) throw new Error(`port ${killed.port} is still the primary`);
      await killed.stop();
      const started = await startDataServer(tls, primary, killed.port);
      servers[index] = started;
      await until('the restarted server replicates', async () =>
        /master_link_status:up/.test(String(await started.command('INFO', 'replication'))),
      );
      return started;
    },
    async stop() {
      await Promise.all([...sentinels, ...servers].map((server) => server.stop()));
    },
  };
}

function isRole(reply: RespValue, role: string): boolean {
  return Array.isArray(reply) && reply[0] === role;
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline)
      throw new Error(`Sentinel set-up: ${what}: not within ${SETTLE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
