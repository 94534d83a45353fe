/**
 * TLS failures and client certificates, against a redis-server that listens on its TLS port only
 * and requires a client certificate signed by a throw-away CA (Redis's default,
 * `tls-auth-clients yes`). The conformance suites run over TLS in tls-ioredis and tls-node-redis;
 * here: a client that does not trust the server, one without a client certificate, and one with
 * both, for each client library.
 */
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocker as createIORedisLocker } from '../../src/backends/redis/adapters/ioredis.js';
import {
  createLocker as createNodeRedisLocker,
  type NodeRedisClient,
} from '../../src/backends/redis/adapters/node-redis.js';
import { LOCK_ERROR_CODES, type Locker } from '../../src/index.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { makeTestCertificates, serverTls, type TestCertificates } from '../helpers/tls-certs.js';

/** Small, so that a failing acquire ends soon; what is checked is that it ends. */
const COMMAND_TIMEOUT_MS = 500;
/** Every failure here must surface by then. */
const BOUND_MS = 10_000;

let certificates: TestCertificates;
let server: RedisServer;

beforeAll(async () => {
  certificates = makeTestCertificates();
  server = await startRedis({ tls: serverTls(certificates) });
});

afterAll(async () => {
  await server?.stop();
  certificates?.remove();
});

/** A client of one library with these TLS options, connecting in the background, and a locker. */
interface Opened {
  readonly locker: Locker;
  /** The connection errors the client reported, in order. */
  readonly errors: Error[];
  readonly ready: () => boolean;
  close(): Promise<void>;
}

const CLIENTS: Record<string, (tls: ConnectionOptions) => Opened> = {
  ioredis: (tls) => {
    const client = new Redis(server.url, { lazyConnect: true, tls });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    // Not awaited, as an application may not: ioredis keeps reconnecting after a failure.
    client.connect().catch(() => {});
    const locker = createIORedisLocker(client, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
    return {
      locker,
      errors,
      ready: () => client.status === 'ready',
      close: async () => {
        await locker.close();
        client.disconnect();
      },
    };
  },
  'node-redis': (tls) => {
    const client = createClient({ url: server.url, socket: { tls: true, ...tls } });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    // node-redis's connect() does not settle while its reconnects keep failing.
    client.connect().catch(() => {});
    const locker = createNodeRedisLocker(client as unknown as NodeRedisClient, {
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    return {
      locker,
      errors,
      ready: () => client.isReady,
      close: async () => {
        await locker.close();
        client.destroy();
      },
    };
  },
};

async function firstError(opened: Opened): Promise<Error> {
  const deadline = Date.now() + BOUND_MS;
  while (opened.errors.length === 0) {
    if (Date.now() > deadline) throw new Error(`no connection error within ${BOUND_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return opened.errors[0] as Error;
}

/** The acquire rejects with LockBackendError within BOUND_MS (it does not wait for a connection). */
async function acquireFailsInTime(locker: Locker, name: string): Promise<void> {
  const started = performance.now();
  await expect(locker.acquire(name, { waitMs: 1_000 })).rejects.toMatchObject({
    code: LOCK_ERROR_CODES.backend,
  });
  expect(performance.now() - started).toBeLessThan(BOUND_MS);
}

describe('TLS', () => {
  describe.each(Object.keys(CLIENTS))('%s', (library) => {
    const open = CLIENTS[library] as (typeof CLIENTS)[string];

    it(`TLS › ${library} › a client that does not trust the server's certificate reports it, and an acquire fails in time instead of hanging`, async () => {
      // A client certificate but not the CA: only the trust in the server is missing.
      const { cert, key } = certificates.client;
      const opened = open({ cert, key });
      try {
        expect((await firstError(opened)).message).toMatch(/self[- ]signed certificate/);
        await acquireFailsInTime(opened.locker, `untrusted-${library}`);
        expect(opened.ready()).toBe(false);
      } finally {
        await opened.close();
      }
    });

    it(`TLS › ${library} › a server that requires client certificates refuses a client without one, and an acquire fails in time`, async () => {
      const opened = open({ ca: certificates.client.ca });
      try {
        // TLS 1.3 finishes the client's handshake before the server checks; the refusal arrives
        // as an alert or, if the server closes first, as a reset.
        await firstError(opened);
        await acquireFailsInTime(opened.locker, `no-certificate-${library}`);
        expect(opened.ready()).toBe(false);
      } finally {
        await opened.close();
      }
    });

    it(`TLS › ${library} › with the CA and a client certificate, a locker acquires, is waited for and releases`, async () => {
      const opened = open(certificates.client);
      const other = open(certificates.client);
      try {
        const name = `mutual-${library}`;
        const lock = await opened.locker.acquire(name, { ttlMs: 10_000 });
        const waiting = other.locker.acquire(name, { ttlMs: 10_000, waitMs: BOUND_MS });
        await new Promise((resolve) => setTimeout(resolve, 100));
        await lock.release();
        const next = await waiting;
        expect(next.fencingToken).toBeGreaterThan(lock.fencingToken);
        await next.release();
        expect(opened.errors).toEqual([]);
        expect(await server.command('EXISTS', `latchkey:{${name}}`)).toBe(0);
      } finally {
        await opened.close();
        await other.close();
      }
    });
  });
});
