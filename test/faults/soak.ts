/**
 * `npm run soak [-- --handovers 100000] [-- --max-minutes 30]`: the fault suite's random mix of
 * in-model faults (nemesis.ts) with the checker, on the mutex, until the workers have made
 * `handovers` acquisitions (or `max-minutes` have passed), sampling Redis keys and memory every few
 * seconds and each worker's heap every second. Then the workers stop and the soak watches Redis
 * until no key is left (every key of an idle name expires: issue 11, item 6). It passes with 0
 * violations of the checker and no growth of keys, Redis memory or worker heap (soak-analysis.ts),
 * and writes docs/faults/soak.md (SOAK_REPORT_DIR to put it elsewhere). FAULTS_SEED replays.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FENCE_KEEP_MS } from '../../src/backends/redis/scripts/index.js';
import { now } from './clock.js';
import { nemesis } from './nemesis.js';
import { repoRoot } from './processes.js';
import { newSeed } from './random.js';
import type { RedisNode } from './redis-node.js';
import { runScenario, type ScenarioResult, type ScenarioSpec } from './scenario.js';
import { heapSamples, type RedisSample, soakVerdict } from './soak-analysis.js';

const SAMPLE_EVERY_MS = 5_000;
/** How long the soak waits for the last key to expire: the fence counter's life, and a margin. */
const DRAIN_MS = FENCE_KEEP_MS + 30_000;
const DRAIN_SAMPLE_MS = 2_000;

async function sample(redis: RedisNode): Promise<RedisSample | undefined> {
  try {
    const keys = Number(await redis.command('DBSIZE'));
    const info = String(await redis.command('INFO', 'memory'));
    const usedMemory = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
    return { at: now(), keys, usedMemory };
  } catch {
    // Down for a restart or paused by a fault: no sample this time.
    return undefined;
  }
}

export function soakSpec(handovers: number, maxMinutes: number): ScenarioSpec {
  let baseline: RedisSample | undefined;
  const during: RedisSample[] = [];
  const drain: RedisSample[] = [];
  let windowMs = 0;
  let acquisitions = 0;
  return {
    id: 'SOAK',
    title: `soak: random mix of in-model faults until ${handovers.toLocaleString('en-US')} hand-overs (at most ${maxMinutes} min), mutex, 6 processes × 4 loops`,
    checks:
      '0 violations of the checker; no key left once the workers stop; no growth of Redis memory or worker heap',
    fast: false,
    inModel: true,
    mode: 'fenced',
    workers: 6,
    // Short sections and no pause between them, so hand-overs come fast; four loops per process
    // keep waiters queued at all times.
    worker: {
      concurrency: 4,
      workMs: [1, 5],
      idleMs: [0, 1],
      manualExtendShare: 0.05,
      maxCycles: Number.MAX_SAFE_INTEGER,
      maxRunMs: maxMinutes * 60_000 + 120_000,
    },
    redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
    proxies: true,
    // Sections of 1–5 ms: any worker holding now will do for a fault.
    holderMinHeldMs: 0,
    setup: async (redis) => {
      baseline = await sample(redis);
    },
    inject: async (context) => {
      const started = now();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const taken = await sample(context.redis);
          if (taken) during.push(taken);
          await context.sleep(SAMPLE_EVERY_MS);
        }
      })();
      try {
        await nemesis(context, {
          durationMs: maxMinutes * 60_000,
          stopWhen: () => context.acquisitions >= handovers,
        });
      } finally {
        sampling = false;
        await sampler;
        windowMs = now() - started;
        acquisitions = context.acquisitions;
      }
    },
    afterStop: async (redis) => {
      const until = now() + DRAIN_MS;
      for (;;) {
        const taken = await sample(redis);
        if (taken) drain.push(taken);
        if ((taken && taken.keys === 0) || now() >= until) break;
        await new Promise((resolve) => setTimeout(resolve, DRAIN_SAMPLE_MS));
      }
    },
    verify: ({ logs }) =>
      soakVerdict({
        baseline,
        during,
        drain,
        heap: heapSamples(logs.histories),
        acquisitions,
        windowMs,
      }),
  };
}

function render(result: ScenarioResult, samples: { seed: number }): string {
  const { operations } = result.check;
  const lines = [
    '# latchkey soak report',
    '',
    `Generated ${new Date().toISOString()} by \`npm run soak\` (seed ${samples.seed}, replay with FAULTS_SEED=${samples.seed}) on Node ${process.versions.node}, ${Math.round(result.durationMs / 1000)} s.`,
    '',
    `**${result.title}: ${result.passed ? 'pass' : 'FAIL'}.** ${result.checks ?? ''}.`,
    '',
    '| Figure | Value |',
    '| --- | --- |',
    ...Object.entries(result.figures).map(([name, value]) => `| ${name} | ${value} |`),
    `| faults injected | ${result.faultsInjected} |`,
    `| acquire calls / acquired | ${operations.acquires} / ${operations.acquired} |`,
    `| lock commands recorded | ${operations.redisCommands} |`,
    `| resource calls (accepted writes / refused by the fence) | ${operations.resourceCalls} (${operations.writesAccepted} / ${operations.writesRejected}) |`,
    `| violations (unexpected) | ${result.unexpected.length} |`,
    '',
    '## Faults',
    '',
    ...result.faultLog.map((line) => `- ${line}`),
    '',
    '## Violations',
    '',
    ...(result.unexpected.length === 0
      ? ['None.']
      : result.unexpected.slice(0, 50).map((v) => `- ${v.property}: ${v.detail}`)),
    ...(result.error ? ['', '## Error', '', '```', result.error, '```'] : []),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      handovers: { type: 'string', default: '100000' },
      'max-minutes': { type: 'string', default: '30' },
    },
  });
  const handovers = Number(values.handovers);
  const maxMinutes = Number(values['max-minutes']);
  if (!(Number.isInteger(handovers) && handovers > 0 && maxMinutes > 0)) {
    throw new Error('usage: npm run soak -- [--handovers N] [--max-minutes M]');
  }
  const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) >>> 0 : newSeed();
  console.log(`soak: until ${handovers} hand-overs or ${maxMinutes} min, seed ${seed}`);
  const result = await runScenario(soakSpec(handovers, maxMinutes), {
    seed,
    logsRoot: join(repoRoot, '.tmp', 'faults'),
    keepLogs: false,
  });
  const dir = process.env.SOAK_REPORT_DIR ?? join(repoRoot, 'docs', 'faults');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'soak.md'), render(result, { seed }));
  console.log(
    `${result.passed ? 'pass' : 'FAIL'}: ${JSON.stringify(result.figures)}; ${result.unexpected.length} unexpected violations; report ${dir}/soak.md`,
  );
  for (const violation of result.unexpected.slice(0, 10)) {
    console.log(`    ${violation.property}: ${violation.detail}`);
  }
  process.exitCode = result.passed ? 0 : 1;
}

if (process.argv[1]?.endsWith('soak.ts')) await main();
