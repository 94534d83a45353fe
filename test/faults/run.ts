/**
 * `npm run test:faults` (after the vitest part): runs the fault scenarios one after another and
 * writes docs/faults/report.md and report.json. Exits 1 if any run had an unexpected violation.
 *
 * Environment:
 * - FAULTS_SEED=<uint32>: replay a run (M1's schedule and every worker's random choices);
 * - FAULTS_ONLY=R1,R7: only these scenario ids;
 * - FAULTS_FAST=1: only the fast subset (with the short random mix);
 * - FAULTS_KEEP_LOGS=1: keep the JSONL logs of passing runs under .tmp/faults/;
 * - FAULTS_REPORT_DIR: where to write the report (default docs/faults);
 * - FAULTS_MERGE=1: put these runs in place of the same rows of the report already there (and
 *   append new rows), instead of writing a report of these runs only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { now } from './clock.js';
import { repoRoot } from './processes.js';
import { newSeed } from './random.js';
import { buildReport, mergeReports, type Report, writeReport } from './report.js';
import { runScenario, type ScenarioResult, type ScenarioSpec } from './scenario.js';
import { FAST_MIX, SCENARIOS } from './scenarios.js';

function selected(): { specs: ScenarioSpec[]; subset: 'full' | 'fast' | 'selected' } {
  const only = process.env.FAULTS_ONLY?.split(',').map((id) => id.trim());
  if (only && only.length > 0) {
    return { specs: SCENARIOS.filter((spec) => only.includes(spec.id)), subset: 'selected' };
  }
  if (process.env.FAULTS_FAST === '1') {
    return { specs: [...SCENARIOS.filter((spec) => spec.fast), FAST_MIX], subset: 'fast' };
  }
  return { specs: [...SCENARIOS], subset: 'full' };
}

function redisVersion(): string {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
      .trim()
      .split(' ')
      .slice(0, 3)
      .join(' ');
  } catch {
    return 'redis-server (version unknown)';
  }
}

async function main(): Promise<void> {
  const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) >>> 0 : newSeed();
  const { specs, subset } = selected();
  const started = now();
  console.log(`fault suite: ${specs.length} runs, seed ${seed} (replay with FAULTS_SEED=${seed})`);
  const results: ScenarioResult[] = [];
  for (const spec of specs) {
    const result = await runScenario(spec, {
      seed,
      logsRoot: join(repoRoot, '.tmp', 'faults'),
      keepLogs: process.env.FAULTS_KEEP_LOGS === '1',
    });
    results.push(result);
    const { operations } = result.check;
    console.log(
      `${result.passed ? 'pass' : 'FAIL'} ${result.id} (${result.mode}) ${result.title}: ` +
        `${result.faultsInjected} faults, ${operations.acquired}/${operations.acquires} acquired, ` +
        `${result.unexpected.length} unexpected, ${result.expected.length} expected violations` +
        (result.error ? `; error: ${result.error.split('\n')[0]}` : '') +
        (result.logsDir ? `; logs ${result.logsDir}` : ''),
    );
    for (const violation of result.unexpected.slice(0, 5)) {
      console.log(`    ${violation.property}: ${violation.detail}`);
    }
  }
  const report = buildReport(
    {
      generatedAt: new Date().toISOString(),
      command: subset === 'full' ? 'npm run test:faults' : `npm run test:faults (${subset})`,
      seed,
      subset,
      node: process.versions.node,
      redis: redisVersion(),
      durationMs: Math.round(now() - started),
    },
    results,
  );
  const dir = process.env.FAULTS_REPORT_DIR ?? join(repoRoot, 'docs', 'faults');
  const existing = join(dir, 'report.json');
  const merge = process.env.FAULTS_MERGE === '1' && existsSync(existing);
  writeReport(
    dir,
    merge ? mergeReports(JSON.parse(readFileSync(existing, 'utf8')) as Report, report) : report,
  );
  console.log(`report written to ${dir}/report.md and report.json`);
  process.exitCode = results.every((result) => result.passed) ? 0 : 1;
}

await main();
