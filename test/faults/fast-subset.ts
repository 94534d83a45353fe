/**
 * The fast subset of the fault suite, for the main test command:
 * `vitest run --config vitest.faults.config.ts`, in three files (fast-1 to fast-3) that take every
 * third scenario and run side by side: a scenario mostly waits (warm-up, faults, settling; two at a
 * time kept a 2-core machine two-thirds idle), so three at a time cut the wall time to a third. Each fast scenario runs for real (Redis, resource server and
 * worker processes); the test asserts only the properties that do not depend on how fast this
 * machine is, which is also what lets several run at once. Timing figures (signal latency, takeover,
 * operation bounds) are printed and written to .tmp/faults/fast-<part>/report.md, not asserted.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PropertyId } from './checker.js';
import { repoRoot } from './processes.js';
import { newSeed } from './random.js';
import { buildReport, writeReport } from './report.js';
import { runScenario, type ScenarioResult } from './scenario.js';
import { FAST_MIX, SCENARIOS } from './scenarios.js';

/** Properties whose verdict does not depend on CPU speed or event-loop lag. */
const ASSERTED: readonly PropertyId[] = [
  'lease-overlap',
  'stale-write-accepted',
  'token-regression',
  'duplicate-fence',
  'acquire-after-validity',
  'extend-after-validity',
  'held-after-validity',
  'unexplained-success',
  // Issue 8 rows. The hand-over and abandoned-hold bounds are half a ttl (500 ms) against a few
  // ms measured: a defect costs a whole ttl, so these do not turn on this machine's speed.
  'slow-handover',
  'abandoned-hold',
  'not-refused',
  'close-not-signalled',
  'missing-warning',
  'unexplained-error',
];

/** Registers part `part` (1-based) of `parts`: every `parts`-th fast scenario from its own. */
export function registerFastPart(part: number, parts: number): void {
  const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) >>> 0 : newSeed();
  const specs = [...SCENARIOS.filter((spec) => spec.fast), FAST_MIX].filter(
    (_, index) => index % parts === part - 1,
  );
  const results: ScenarioResult[] = [];

  describe(`fault suite › fast subset, part ${part} of ${parts} (seed ${seed}, replay with FAULTS_SEED=${seed})`, () => {
    for (const spec of specs) {
      it(`${spec.id} › ${spec.title} (${spec.mode})`, async () => {
        const result = await runScenario(spec, {
          seed,
          logsRoot: join(repoRoot, '.tmp', 'faults'),
          keepLogs: false,
        });
        results.push(result);
        const timing = result.unexpected.filter(
          (violation) => !ASSERTED.includes(violation.property),
        );
        for (const violation of timing) console.warn(`${spec.id} timing: ${violation.detail}`);
        expect(result.error).toBeUndefined();
        if (spec.refused) expect(result.check.operations.acquired).toBe(0);
        else expect(result.check.operations.acquired).toBeGreaterThan(0);
        expect(result.faultsInjected).toBeGreaterThan(0);
        expect(
          result.unexpected.filter((violation) => ASSERTED.includes(violation.property)),
        ).toEqual([]);
      });
    }
  });

  afterAll(() => {
    const report = buildReport(
      {
        generatedAt: new Date().toISOString(),
        command: 'vitest run --config vitest.faults.config.ts',
        seed,
        subset: 'fast',
        node: process.versions.node,
        redis: 'redis-server',
        durationMs: results.reduce((total, result) => total + result.durationMs, 0),
      },
      results,
    );
    const dir = join(repoRoot, '.tmp', 'faults', `fast-${part}`);
    writeReport(dir, report);
    console.log(`fast fault report: ${dir}/report.md`);
  });
}
