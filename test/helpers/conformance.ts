/** Registers the shipped conformance suite for one of our adapters against its own redis-server. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { registerConformanceSuite } from '../../src/testing/conformance.js';
import type { ConnectAdapter } from '../../src/testing/types.js';
import { type RedisServer, startRedis } from './redis-server.js';

export function runConformance(name: string, connect: ConnectAdapter, workerFile: string): void {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  registerConformanceSuite(
    { describe, it, beforeAll, afterAll },
    {
      name,
      connect,
      server: () => {
        if (!server) throw new Error('redis-server did not start');
        return server;
      },
      worker: {
        command: process.execPath,
        args: ['--import', 'tsx', fileURLToPath(new URL(workerFile, import.meta.url))],
      },
    },
  );
}
