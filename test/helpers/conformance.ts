/** Registers the shipped conformance suite for one of our adapters against its own redis-server. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { registerConformanceSuite } from '../../src/testing/conformance.js';
import type { ConformanceTarget, ConnectAdapter } from '../../src/testing/types.js';
import { aclSetClusterUser, aclSetUser } from './acl.js';
import { bundledEntry } from './bundled-entry.js';
import { clusterSuiteServer } from './cluster-suite-server.js';
import { type ClusterSetup, startCluster } from './redis-cluster.js';
import { type SentinelSetup, startSentinelSetup } from './redis-sentinel.js';
import { type RedisServer, startRedis } from './redis-server.js';
import {
  type ClientTls,
  makeTestCertificates,
  serverTls,
  type TestCertificates,
  TLS_DIR_ENV,
} from './tls-certs.js';

/** The multi-process tests' size on a Cluster, through Sentinel and over TLS (CI time). */
const TOPOLOGY_SCALE = 0.25;

/** The user the conformance suites connect as: exactly the README's least-privilege ACL rule. */
const USER = 'latchkey-conformance';
const PASSWORD = 'conformance-password';

/** How the suite starts a worker process: `workerFile` (beside this module) from its bundle. */
function workerCommand(workerFile: string): NonNullable<ConformanceTarget['worker']> {
  const entry = fileURLToPath(new URL(workerFile, import.meta.url));
  return { command: process.execPath, args: [bundledEntry(entry)] };
}

/** Creates the least-privilege user on `server` and returns its URL with that user's credentials. */
async function leastPrivilegeUrl(server: RedisServer): Promise<string> {
  const created = await server.command(...aclSetUser(USER, PASSWORD));
  if (created !== 'OK') throw new Error(`ACL SETUSER failed: ${String(created)}`);
  const asUser = new URL(server.url);
  asUser.username = USER;
  asUser.password = PASSWORD;
  return asUser.toString();
}

export function runConformance(name: string, connect: ConnectAdapter, workerFile: string): void {
  let server: RedisServer | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    server = await startRedis();
    url = await leastPrivilegeUrl(server);
  });
  afterAll(async () => {
    await server?.stop();
  });
  registerConformanceSuite(
    { describe, it, beforeAll, afterAll },
    {
      name,
      connect,
      // Lockers connect as the least-privilege user; the suite's own admin commands
      // (server.command) keep the default user.
      server: () => {
        if (!server || !url) throw new Error('redis-server did not start');
        return { url, command: server.command };
      },
      worker: workerCommand(workerFile),
    },
  );
}

/**
 * The same suite over TLS, as the same least-privilege user: redis-server listens on its TLS port
 * only, with certificates made at test time from a throw-away CA. Lockers connect with
 * `connectTls(client)` (trusting the CA, offering a client certificate that the server checks), the
 * workers with the same material found through TLS_DIR_ENV, and the suite's admin commands go over
 * TLS as well. Client certificates are `optional`, not required: the suite's pattern listener
 * offers none (see patternListener); tls.test.ts shows a required one refused when missing.
 */
export function runTlsConformance(
  name: string,
  connectTls: (client: ClientTls) => ConnectAdapter,
  workerFile: string,
): void {
  let certificates: TestCertificates | undefined;
  let server: RedisServer | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    certificates = makeTestCertificates();
    server = await startRedis({ tls: serverTls(certificates, 'optional') });
    url = await leastPrivilegeUrl(server);
  });
  afterAll(async () => {
    await server?.stop();
    certificates?.remove();
  });
  const worker = workerCommand(workerFile);
  registerConformanceSuite(
    { describe, it, beforeAll, afterAll },
    {
      name: `${name} over TLS`,
      connect: (serverUrl) => {
        if (!certificates) throw new Error('no certificates');
        return connectTls(certificates.client)(serverUrl);
      },
      server: () => {
        if (!server || !url) throw new Error('redis-server did not start');
        return { url, command: server.command };
      },
      // Read when a worker starts, after beforeAll made the certificates: `env` passes their
      // directory on, since the suite gives workers only a command and arguments.
      worker: {
        command: 'env',
        get args() {
          if (!certificates) throw new Error('no certificates');
          return [`${TLS_DIR_ENV}=${certificates.dir}`, worker.command, ...worker.args];
        },
      },
      // The multi-process tests at a quarter of their size: the full size runs over plain TCP.
      scale: TOPOLOGY_SCALE,
    },
  );
}

/**
 * The same suite against a Redis Cluster of 3 masters with a replica each, which the suite's
 * admin commands reach through clusterSuiteServer. Lockers connect to one master as the
 * least-privilege user (the rule plus its Cluster additions, set on every node) and find the rest.
 */
export function runClusterConformance(
  name: string,
  connect: ConnectAdapter,
  workerFile: string,
): void {
  let cluster: ClusterSetup | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
    for (const node of cluster.nodes) {
      const created = await node.server.command(...aclSetClusterUser(USER, PASSWORD));
      if (created !== 'OK') throw new Error(`ACL SETUSER failed: ${String(created)}`);
    }
    const [seed] = await cluster.masters();
    if (!seed) throw new Error('the cluster has no master');
    const asUser = new URL(seed.server.url);
    asUser.username = USER;
    asUser.password = PASSWORD;
    url = asUser.toString();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  registerConformanceSuite(
    { describe, it, beforeAll, afterAll },
    {
      name: `${name} on a Cluster`,
      connect,
      server: () => {
        const started = cluster;
        if (!started || !url) throw new Error('the cluster did not start');
        return clusterSuiteServer(
          {
            masters: () => started.masters(),
            all: () => started.nodes,
            masterOf: (slot) => started.masterOf(slot),
          },
          url,
        );
      },
      worker: workerCommand(workerFile),
      // The multi-process tests at a quarter of their size: the full size runs on one server.
      scale: TOPOLOGY_SCALE,
    },
  );
}

/**
 * The same suite through Sentinel: one primary, two replicas, three Sentinels. Lockers connect
 * through a Sentinel as the least-privilege user (set on every data server); the suite's admin
 * commands go to the primary. The Sentinels wait 10 s before calling the primary down, so the
 * suite's CLIENT PAUSE (up to 1.5 s) does not start a failover.
 */
export function runSentinelConformance(
  name: string,
  connect: ConnectAdapter,
  workerFile: string,
): void {
  let setup: SentinelSetup | undefined;
  let primary: RedisServer | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    setup = await startSentinelSetup({ downAfterMs: 10_000 });
    for (const server of setup.servers) {
      const created = await server.command(...aclSetUser(USER, PASSWORD));
      if (created !== 'OK') throw new Error(`ACL SETUSER failed: ${String(created)}`);
    }
    primary = await setup.primary();
    const [sentinel] = setup.sentinels;
    if (!sentinel) throw new Error('no Sentinel');
    const asUser = new URL(sentinel.url);
    asUser.username = USER;
    asUser.password = PASSWORD;
    url = asUser.toString();
  }, 60_000);
  afterAll(async () => {
    await setup?.stop();
  });
  registerConformanceSuite(
    { describe, it, beforeAll, afterAll },
    {
      name: `${name} through Sentinel`,
      connect,
      server: () => {
        if (!primary || !url) throw new Error('the Sentinel set-up did not start');
        return { url, command: primary.command };
      },
      worker: workerCommand(workerFile),
      // The multi-process tests at a quarter of their size: the full size runs on one server.
      scale: TOPOLOGY_SCALE,
    },
  );
}
