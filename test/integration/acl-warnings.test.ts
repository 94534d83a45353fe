/**
 * A user whose ACL lacks latchkey's channel pattern: SUBSCRIBE is refused, so no lock can be
 * handed over by push. Locks still work (a waiter takes the lock at the holder's expiry), and the
 * locker says why its waits are long with a NO_PUSH_WAKEUPS warning, once.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, WARNING_CODES } from '../../src/diagnostics.js';
import { Locker } from '../../src/locker.js';
import type { ConnectAdapter } from '../../src/testing/types.js';
import { LATCHKEY_ACL_RULE } from '../helpers/acl.js';
import { connectIORedis, connectNodeRedis } from '../helpers/adapters.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

const USER = 'latchkey-no-channels';
const PASSWORD = 'no-channels-password';

let server: RedisServer;
let restrictedUrl: string;

beforeAll(async () => {
  server = await startRedis();
  const rule = LATCHKEY_ACL_RULE.filter((part) => part !== '&latchkey:*');
  const created = await server.command(
    'ACL',
    'SETUSER',
    USER,
    'reset',
    'on',
    `>${PASSWORD}`,
    ...rule,
  );
  expect(created).toBe('OK');
  const url = new URL(server.url);
  url.username = USER;
  url.password = PASSWORD;
  restrictedUrl = url.toString();
});

afterAll(async () => {
  await server?.stop();
});

describe.each([
  ['ioredis', connectIORedis],
  ['node-redis', connectNodeRedis],
] as [string, ConnectAdapter][])('%s › a user denied the channels', (_client, connect) => {
  it('warns NO_PUSH_WAKEUPS once, and its waiters still get the lock at the holder expiry', async () => {
    const warnings: { code: string; message: string }[] = [];
    const onWarning = (message: unknown) =>
      warnings.push(message as { code: string; message: string });
    diagnosticsChannel.subscribe(CHANNELS.warning, onWarning);
    const admin = await connect(server.url);
    const restricted = await connect(restrictedUrl);
    const holderLocker = new Locker(admin.adapter);
    const waiterLocker = new Locker(restricted.adapter);
    try {
      const name = `denied-${_client}`;
      const holder = await holderLocker.acquire(name, { ttlMs: 1_000, autoRefresh: false });
      const waits = [1, 2].map(() => waiterLocker.acquire(name, { waitMs: 10_000 }));
      await holder.release();
      // No grant can reach the waiters: the first takes the lock when the released key is found
      // gone, at the latest at the holder's expiry, then hands it on the same way.
      const first = await Promise.race(waits);
      expect(first.isHeld).toBe(true);
      await first.release();
      const both = await Promise.all(waits);
      for (const lock of both) await lock.release();
      const denied = warnings.filter((warning) => warning.code === WARNING_CODES.noPush);
      expect(denied).toHaveLength(1);
      expect(denied[0]?.message).toMatch(/NOPERM/);
    } finally {
      diagnosticsChannel.unsubscribe(CHANNELS.warning, onWarning);
      await waiterLocker.close();
      await holderLocker.close();
      await restricted.close();
      await admin.close();
    }
  });
});
