/**
 * Time for the benchmark. `nowUs` reads CLOCK_MONOTONIC (process.hrtime), which on Linux is one
 * clock for the whole machine, so timestamps taken in different worker processes can be compared
 * directly: a release in one process and the acquire it enabled in another.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Sleeps until the monotonic clock reads `atUs` (returns at once if it already has). */
export async function sleepUntilUs(atUs: number): Promise<void> {
  const ms = (atUs - nowUs()) / 1000;
  if (ms > 0) await sleep(ms);
}
