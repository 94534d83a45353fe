/**
 * One demo worker process. It contends for the demo lock in a loop and, while holding it, does a
 * read-modify-write on the ledger, sending its fencing token with the write.
 *
 * It never checks `lock.signal` before writing, on purpose: the demo pauses a holder past its ttl,
 * and this shows the ledger's fencing refusing the late write of a holder that lost its lock
 * without knowing. Real code should do both: check the signal, and fence the storage.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createLocker } from '../src/backends/redis/adapters/ioredis.js';
import { isLockTimeoutError, type Lock, type Locker } from '../src/index.js';
import { LedgerClient } from './ledger-client.js';
import { crossProcessNow, parseWorkerConfig, type WorkerConfig } from './protocol.js';

/** A worker does at most this many cycles, even if nobody tells it to stop. */
const MAX_CYCLES = 100_000;
/** Pause after an unexpected error before contending again. */
const ERROR_PAUSE_MS = 100;
/** Shutdown steps that take longer than this are cut short. */
const SHUTDOWN_STEP_MS = 2_000;

const config = parseWorkerConfig(process.argv[2]);
const ledger = await LedgerClient.connect(config.ledgerPort);
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
redis.on('error', () => {}); // surfaces as a failed lock command, which the loop reports
const locker = createLocker(redis, { prefix: config.prefix, ttlMs: config.ttlMs });
let shuttingDown: Promise<void> | undefined;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    ledger.close();
    void shutdown();
  });
}
// Whatever happens, this process does not outlive its lifetime.
setTimeout(() => process.exit(3), config.lifetimeMs).unref();

ledger.report({ type: 'hello', worker: config.worker, pid: process.pid });
await Promise.race([
  ledger.started,
  new Promise((resolve) => ledger.stopSignal.addEventListener('abort', resolve, { once: true })),
]);
for (let cycle = 0; cycle < MAX_CYCLES && !ledger.stopSignal.aborted; cycle++) {
  await contendOnce(config, locker, ledger);
}
await shutdown();

async function contendOnce(config: WorkerConfig, locker: Locker, ledger: LedgerClient) {
  const requestedAt = crossProcessNow();
  let lock: Lock;
  try {
    lock = await locker.acquire(config.lockName, { signal: ledger.stopSignal });
  } catch (error) {
    if (ledger.stopSignal.aborted) return;
    ledger.report({ type: 'problem', message: `acquire failed: ${describe(error)}` });
    if (!isLockTimeoutError(error)) await sleep(ERROR_PAUSE_MS);
    return;
  }
  const acquiredAt = crossProcessNow();
  ledger.report({
    type: 'acquired',
    fence: lock.fencingToken,
    requestedAt,
    acquiredAt,
    validUntil: acquiredAt + lock.remainingMs,
  });
  try {
    const value = await ledger.read(lock.fencingToken);
    await sleep(workDuration(config));
    // No `lock.signal.throwIfAborted()` here, on purpose (see the top of this file). The lock's
    // state goes along only so that the summary can tell what the signal would have said.
    await ledger.write({
      fence: lock.fencingToken,
      value: value + 1,
      validUntil: lock.isHeld ? crossProcessNow() + lock.remainingMs : null,
      lostReason: lock.signal.aborted ? describe(lock.signal.reason) : null,
    });
  } catch (error) {
    if (!ledger.stopSignal.aborted) {
      ledger.report({ type: 'problem', message: `ledger request failed: ${describe(error)}` });
    }
  } finally {
    const releasedAt = crossProcessNow();
    const outcome = await lock.release().then(
      (result) => result.outcome,
      () => 'failed' as const,
    );
    ledger.report({ type: 'released', fence: lock.fencingToken, releasedAt, outcome });
  }
}

function workDuration(config: WorkerConfig): number {
  const [min, max] = config.workMs;
  return min + Math.floor(Math.random() * (max - min + 1));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    await Promise.race([locker.close(), sleep(SHUTDOWN_STEP_MS)]);
    await Promise.race([redis.quit(), sleep(SHUTDOWN_STEP_MS)]).catch(() => {});
    redis.disconnect();
    ledger.close();
    process.exit(0);
  })();
  return shuttingDown;
}
