/**
 * M1, the "nemesis mix": a random schedule of the in-model faults, Jepsen-style, drawn from the
 * run's seeded PRNG so that a failing run can be replayed with FAULTS_SEED=<seed>. (Timing still
 * varies between runs; the schedule of faults and their parameters does not.)
 */

import { now } from './clock.js';
import {
  blackholeHolder,
  busyScript,
  clientKill,
  clientPause,
  debugSleep,
  freezeRedis,
  killHolder,
  resetConnections,
  restartRedis,
} from './faults.js';
import type { ScenarioContext } from './scenario.js';

interface NemesisFault {
  readonly name: string;
  run(context: ScenarioContext, random: () => number): Promise<unknown>;
}

/** A duration in [min, max] ms, rounded to 10 ms. */
function between(random: () => number, min: number, max: number): number {
  return Math.round((min + random() * (max - min)) / 10) * 10;
}

/** In-model faults only: the lock must stay safe (G1) through every one of them. */
export const NEMESIS_FAULTS: readonly NemesisFault[] = [
  {
    name: 'kill holder',
    run: async (context) => {
      await killHolder(context);
      await context.spawnWorker();
    },
  },
  {
    name: 'redis SIGSTOP',
    run: (context, random) => freezeRedis(context, between(random, 200, 2_000)),
  },
  {
    name: 'DEBUG SLEEP',
    run: (context, random) => debugSleep(context, between(random, 200, 1_500) / 1_000),
  },
  {
    name: 'CLIENT PAUSE',
    run: (context, random) => clientPause(context, between(random, 200, 2_000)),
  },
  { name: 'CLIENT KILL', run: (context) => clientKill(context) },
  { name: 'proxy RST', run: (context) => resetConnections(context) },
  {
    name: 'blackhole',
    run: (context, random) => blackholeHolder(context, between(random, 300, 2_500)),
  },
  {
    name: 'busy script',
    run: (context, random) => busyScript(context, between(random, 200, 1_500)),
  },
  {
    name: 'restart (AOF always)',
    run: (context) => restartRedis(context, { downMs: 0, persistent: true }),
  },
];

export async function nemesis(
  context: ScenarioContext,
  { durationMs, stopWhen }: { durationMs: number; stopWhen?: () => boolean },
): Promise<void> {
  const random = context.random;
  const endAt = performance.now() + durationMs;
  context.record({ kind: 'note', at: now(), what: `nemesis seed ${context.seed}` });
  while (performance.now() < endAt && !stopWhen?.()) {
    const fault = NEMESIS_FAULTS[Math.floor(random() * NEMESIS_FAULTS.length)];
    if (!fault) break;
    await fault.run(context, random);
    await context.sleep(between(random, 2_000, 5_000));
  }
}
