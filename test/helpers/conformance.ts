/** Registers the shipped conformance suite for one of our adapters against its own redis-server. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { registerConformanceSuite } from '../../src/testing/conformance.js';
import type { ConnectAdapter } from '../../src/testing/types.js';
import { aclSetUser } from './acl.js';
import { type RedisServer, startRedis } from './redis-server.js';

/** The user the conformance suites connect as: exactly the README's least-privilege ACL rule. */
const USER = 'latchkey-conformance';
const PASSWORD = 'conformance-password';

export function runConformance(name: string, connect: ConnectAdapter, workerFile: string): void {
  let server: RedisServer | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    server = await startRedis();
    const created = await server.command(...aclSetUser(USER, PASSWORD));
    if (created !== 'OK') throw new Error(`ACL SETUSER failed: ${String(created)}`);
    const asUser = new URL(server.url);
    asUser.username = USER;
    asUser.password = PASSWORD;
    url = asUser.toString();
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
      worker: {
        command: process.execPath,
        args: ['--import', 'tsx', fileURLToPath(new URL(workerFile, import.meta.url))],
      },
    },
  );
}
