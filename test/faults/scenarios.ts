/**
 * The fault catalogue for single-node Redis (safety.md §6.4, R1–R10) and the random mix (M1).
 * ttl 1000 ms, refresh 300 ms, commandTimeoutMs 500 ms unless a scenario says otherwise.
 */
import {
  blackholeHolder,
  blockInWriteWindow,
  busyScript,
  clientKill,
  clientPause,
  debugSleep,
  deleteLockKey,
  evictLockKey,
  flushAll,
  freezeInWriteWindow,
  freezeRedis,
  killHolder,
  resetConnections,
  restartRedis,
} from './faults.js';
import { nemesis } from './nemesis.js';
import type { ScenarioContext, ScenarioSpec } from './scenario.js';

const TTL_MS = 1_000;
/** Gap between repeated faults, so the system is back to normal before the next one. */
const GAP_MS = 1_200;

async function repeat(
  context: ScenarioContext,
  times: number,
  fault: (context: ScenarioContext) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    if (i > 0) await context.sleep(GAP_MS);
    await fault(context);
  }
}

const PAUSED_HOLDER =
  'the holder is paused past its ttl with a write in flight: outside the model of G1 (pauses must ' +
  'stay under the drift margin), so its late write lands after the next holder entered; only ' +
  'fencing can refuse it, and this resource does not fence';
const KEY_LOSS =
  'an admin or Redis itself removed the lock key: the holder cannot know before its next refresh, ' +
  'so the next holder may be granted first (outside the model: no Redis data loss)';
const COUNTER_LOSS =
  'the fencing counter is gone as well, so tokens start again from 1: a documented weakness of ' +
  'single-node Redis without persistence (safety.md §5 G2 exception)';

/** Critical sections longer than the ttl, so a holder is still inside when its validity ends. */
const LONG_SECTIONS = { workMs: [600, 2_500] } as const;

const AOF_ALWAYS = ['--appendonly', 'yes', '--appendfsync', 'always'];

export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    id: 'R1',
    title: 'holder SIGKILL',
    fast: true,
    inModel: true,
    mode: 'fenced',
    workers: 4,
    inject: (context) =>
      repeat(context, 3, async () => {
        await killHolder(context);
        await context.spawnWorker();
      }),
  },
  {
    id: 'R2',
    title: 'holder SIGSTOP 1.5 × ttl with a write in flight, then SIGCONT',
    fast: true,
    inModel: false,
    mode: 'fenced',
    worker: { writeWindowMs: 150 },
    inject: (context) => repeat(context, 2, () => freezeInWriteWindow(context, 1.5 * TTL_MS)),
  },
  {
    id: 'R2',
    title: 'holder SIGSTOP 1.5 × ttl with a write in flight (unfenced resource)',
    fast: false,
    inModel: false,
    mode: 'unfenced',
    worker: { writeWindowMs: 150 },
    expected: ['resource-overlap', 'stale-write-accepted'],
    expectedBecause: PAUSED_HOLDER,
    inject: (context) => repeat(context, 2, () => freezeInWriteWindow(context, 1.5 * TTL_MS)),
  },
  {
    id: 'R2b',
    title: 'holder event loop blocked 1.5 × ttl (Atomics.wait) with a write in flight',
    fast: true,
    inModel: false,
    mode: 'fenced',
    worker: { writeWindowMs: 150 },
    inject: (context) => repeat(context, 2, () => blockInWriteWindow(context, 1.5 * TTL_MS)),
  },
  {
    id: 'R2b',
    title: 'holder event loop blocked 1.5 × ttl with a write in flight (unfenced resource)',
    fast: false,
    inModel: false,
    mode: 'unfenced',
    worker: { writeWindowMs: 150 },
    expected: ['resource-overlap', 'stale-write-accepted'],
    expectedBecause: PAUSED_HOLDER,
    inject: (context) => repeat(context, 2, () => blockInWriteWindow(context, 1.5 * TTL_MS)),
  },
  {
    id: 'R3a',
    title: 'redis SIGSTOP 0.5 × ttl, then SIGCONT',
    fast: false,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    inject: (context) => repeat(context, 3, () => freezeRedis(context, 0.5 * TTL_MS)),
  },
  {
    id: 'R3b',
    title: 'redis SIGSTOP 2 × ttl, then SIGCONT',
    fast: false,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    inject: (context) => repeat(context, 3, () => freezeRedis(context, 2 * TTL_MS)),
  },
  {
    id: 'R3c',
    title: 'DEBUG SLEEP 2 (2 × ttl)',
    fast: false,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    inject: (context) => repeat(context, 3, () => debugSleep(context, 2)),
  },
  {
    id: 'R3d',
    title: 'CLIENT PAUSE 2000 ALL (2 × ttl; expiry frozen too)',
    fast: true,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    inject: (context) => repeat(context, 3, () => clientPause(context, 2 * TTL_MS)),
  },
  {
    id: 'R4a',
    title: 'redis kill -9 and immediate restart without persistence',
    fast: false,
    inModel: false,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    expected: [
      'lease-overlap',
      'resource-overlap',
      'token-regression',
      'duplicate-fence',
      'stale-write-accepted',
    ],
    expectedBecause: `${KEY_LOSS}; ${COUNTER_LOSS}`,
    inject: (context) =>
      repeat(context, 2, () => restartRedis(context, { downMs: 0, persistent: false })),
  },
  {
    id: 'R4b',
    title: 'redis kill -9, restart without persistence after 1.5 × ttl',
    fast: false,
    inModel: false,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    expected: ['token-regression', 'duplicate-fence'],
    expectedBecause: `${COUNTER_LOSS}; the delayed restart keeps lease safety (G1) intact`,
    inject: (context) =>
      repeat(context, 2, () => restartRedis(context, { downMs: 1.5 * TTL_MS, persistent: false })),
  },
  {
    id: 'R5',
    title: 'redis kill -9 and restart with --appendonly yes --appendfsync always',
    fast: false,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    redisArgs: AOF_ALWAYS,
    inject: (context) =>
      repeat(context, 2, () => restartRedis(context, { downMs: 0, persistent: true })),
  },
  {
    id: 'R6a',
    title: 'CLIENT KILL of the workers’ connections (normal and pub/sub)',
    fast: true,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    inject: (context) => repeat(context, 3, () => clientKill(context)),
  },
  {
    id: 'R6b',
    title: 'TCP RST of every connection (proxy)',
    fast: false,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    proxies: true,
    inject: (context) => repeat(context, 3, () => resetConnections(context)),
  },
  {
    id: 'R6c',
    title: 'CLIENT KILL with the client libraries’ default options',
    fast: false,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    profile: 'defaults',
    inject: (context) => repeat(context, 3, () => clientKill(context)),
  },
  {
    id: 'R7',
    title: 'blackhole of the holder’s connections for 2 × ttl (proxy), then heal',
    fast: true,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    proxies: true,
    inject: (context) => repeat(context, 3, () => blackholeHolder(context, 2 * TTL_MS)),
  },
  {
    id: 'R8a',
    title: 'lock key DEL by an admin',
    fast: true,
    inModel: false,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    expected: ['lease-overlap'],
    expectedBecause: KEY_LOSS,
    inject: (context) => repeat(context, 3, () => deleteLockKey(context)),
  },
  {
    id: 'R8b',
    title: 'FLUSHALL',
    fast: false,
    inModel: false,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    expected: [
      'lease-overlap',
      'resource-overlap',
      'token-regression',
      'duplicate-fence',
      'stale-write-accepted',
    ],
    expectedBecause: `${KEY_LOSS}; ${COUNTER_LOSS}`,
    inject: (context) => repeat(context, 2, () => flushAll(context)),
  },
  {
    id: 'R8c',
    title: 'lock key evicted under maxmemory (volatile-ttl)',
    fast: false,
    inModel: false,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    expected: ['lease-overlap'],
    expectedBecause: KEY_LOSS,
    inject: (context) => repeat(context, 2, () => evictLockKey(context)),
  },
  {
    id: 'R10',
    title: 'busy script for 1.5 × ttl (busy-reply-threshold 100 ms → BUSY)',
    fast: true,
    inModel: true,
    mode: 'fenced',
    worker: LONG_SECTIONS,
    inject: (context) => repeat(context, 3, () => busyScript(context, 1.5 * TTL_MS)),
  },
  {
    id: 'M1',
    title: 'random mix of in-model faults (seeded)',
    fast: false,
    inModel: true,
    mode: 'fenced',
    workers: 5,
    redisArgs: AOF_ALWAYS,
    proxies: true,
    inject: (context) => nemesis(context, { durationMs: 120_000 }),
  },
];

/** A shorter mix for the fast subset. */
export const FAST_MIX: ScenarioSpec = {
  ...(SCENARIOS.find((spec) => spec.id === 'M1') as ScenarioSpec),
  title: 'random mix of in-model faults (seeded, 20 s)',
  fast: true,
  inject: (context) => nemesis(context, { durationMs: 20_000 }),
};
