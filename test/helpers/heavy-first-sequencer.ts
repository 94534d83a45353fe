/**
 * Test files in an order that keeps both workers busy to the end: the files that run a whole
 * conformance suite (1.5–2 min each, against seconds for most others) first. Without a cache of
 * earlier durations, as in CI's fresh clone, vitest runs larger files first, and these are files
 * of a few lines, so they ran last and the run ended with one worker idle.
 */
import { readFileSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const RUNS_A_SUITE = /\brun(?:Cluster|Sentinel|Tls)?Conformance\(/;

export default class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const heavy = new Set(
      sorted.filter((spec) => RUNS_A_SUITE.test(readFileSync(spec.moduleId, 'utf8'))),
    );
    return [...heavy, ...sorted.filter((spec) => !heavy.has(spec))];
  }
}
