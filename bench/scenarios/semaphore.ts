/**
 * Scenario 5, semaphore: C processes share `limit` permits of one key, hold 1 ms, straight back
 * to acquire. For each C the libraries with a counting semaphore run one after another (rotating
 * the order per C), each in a fresh window; the checker's occupancy counter must never pass the
 * limit.
 */
import type { BenchContext } from '../context.js';
import { rotated } from '../context.js';
import { type LibraryId, SEMAPHORE_LIBRARY_IDS } from '../libs/index.js';
import { totalCalls } from '../redis-stats.js';
import { per } from '../stats.js';
import { contendOnce } from './contended.js';
import { analyzeContended, type ContendedFigures } from './contended-analysis.js';

export interface SemaphoreResult extends Omit<ContendedFigures, 'fencingIncreasing'> {
  readonly lib: LibraryId;
  readonly contenders: number;
  readonly limit: number;
  /** All commands the lock server ran per acquisition, including those scripts called. */
  readonly commandsPerAcquisition: number;
  readonly redisCpuUsPerAcquisition: number;
}

export async function runSemaphore(context: BenchContext): Promise<SemaphoreResult[]> {
  const out: SemaphoreResult[] = [];
  const { contenders: counts, limit, durationMs } = context.config.semaphore;
  const libs = context.libs.filter((lib) => SEMAPHORE_LIBRARY_IDS.includes(lib));
  for (const [round_, contenders] of counts.entries()) {
    for (const lib of rotated(libs, round_)) {
      context.log(`semaphore: N=${limit} C=${contenders} ${lib}`);
      const { results, snapshot, windowUs } = await contendOnce(
        context,
        lib,
        contenders,
        durationMs,
        'semaphore',
        { limit },
      );
      // Several permits are held at once, so "fencing increasing in acquisition order" has no
      // meaning here; the other figures read as in the contended scenario.
      const { fencingIncreasing: _, ...figures } = analyzeContended(results, windowUs);
      const perAcquisition = per(figures.acquisitions);
      out.push({
        lib,
        contenders,
        limit,
        ...figures,
        commandsPerAcquisition: perAcquisition(totalCalls(snapshot.calls)),
        redisCpuUsPerAcquisition: perAcquisition(snapshot.cpuSeconds * 1e6),
      });
    }
  }
  return out;
}
