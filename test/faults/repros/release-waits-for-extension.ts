/**
 * Repro (found by the fault suite, R3b/R3c/R3d/R7/M1): `release()` and `extend()` can take a
 * multiple of `commandTimeoutMs` while Redis is stalled, although release is documented as
 * "bounded by the locker's commandTimeoutMs". Both wait for the extension in flight (and for any
 * extension queued behind it) before sending their own command.
 *
 * Run: `npx tsx test/faults/repros/release-waits-for-extension.ts`. Prints the measured durations;
 * with the current library release takes about 2 × commandTimeoutMs (1 × expected) and a manual
 * extend queued behind the auto-refresh about 2 × commandTimeoutMs too.
 */
import { Redis } from 'ioredis';
import { createLocker } from '../../../src/backends/redis/adapters/ioredis.js';
import { startRedis } from '../../helpers/redis-server.js';

const COMMAND_TIMEOUT_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const server = await startRedis();
const client = new Redis(server.port, '127.0.0.1');
const locker = createLocker(client, {
  ttlMs: 1_000,
  refreshMs: 300,
  commandTimeoutMs: COMMAND_TIMEOUT_MS,
});
try {
  for (const operation of ['release', 'extend'] as const) {
    const lock = await locker.acquire(`repro-${operation}`);
    // Stall Redis just before the first auto-refresh (at 300 ms) is sent.
    await sleep(250);
    process.kill(server.pid, 'SIGSTOP');
    await sleep(100); // the auto-refresh extension is now in flight, waiting for its timeout
    const started = performance.now();
    const outcome = await (operation === 'release' ? lock.release() : lock.extend()).then(
      () => 'resolved',
      (error: unknown) => `rejected (${(error as { code?: string }).code})`,
    );
    const elapsed = performance.now() - started;
    process.kill(server.pid, 'SIGCONT');
    console.log(
      `${operation}() ${outcome} after ${elapsed.toFixed(0)} ms; commandTimeoutMs is ${COMMAND_TIMEOUT_MS} ms`,
    );
    await lock.release().catch(() => {});
  }
} finally {
  process.kill(server.pid, 'SIGCONT');
  await locker.close();
  client.disconnect();
  await server.stop();
}
