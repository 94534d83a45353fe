/**
 * `npm run bench:charts [-- path/to/results.json]`: turns a benchmark JSON file (default
 * bench/results/latest.json) into SVG charts in docs/bench/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from './results.js';
import type { ContendedResult } from './scenarios/contended.js';
import { type BarSeries, renderBarChart } from './svg.js';

const COLORS: Record<string, string> = {
  'latchkey-ioredis': '#1f5fbf',
  'latchkey-node-redis': '#4fa3e0',
  raw: '#7f7f7f',
  redlock4: '#d98c1f',
  redlock5: '#e6b422',
  'sesamecare-redlock': '#8c564b',
  'redis-semaphore': '#2ca02c',
  'redlock-universal': '#9467bd',
};

const here = dirname(fileURLToPath(import.meta.url));
const input = resolve(process.argv[2] ?? join(here, 'results', 'latest.json'));
const outDir = resolve(here, '..', 'docs', 'bench');
const results = JSON.parse(readFileSync(input, 'utf8')) as BenchResults;

const counts = [...new Set(results.contended.map((r) => r.contenders))].sort((a, b) => a - b);
const groups = counts.map((c) => `C = ${c}`);
const label = (id: string) =>
  id === 'raw'
    ? 'raw floor: SET NX PX + EVALSHA'
    : (results.libraries.find((lib) => lib.id === id)?.label ?? id);
const subtitle = `${results.config.mode} run ${results.date.slice(0, 10)}, ${results.machine.cpus} × ${results.machine.cpuModel}, redis ${results.machine.redis}, hold ${results.config.holdMs} ms`;

function seriesBy(
  pick: (r: ContendedResult) => number,
  lower?: (r: ContendedResult) => number,
): BarSeries[] {
  return results.libraries.map((lib) => {
    const runs = counts.map((c) =>
      results.contended.find((r) => r.lib === lib.id && r.contenders === c),
    );
    return {
      name: label(lib.id),
      color: COLORS[lib.id] ?? '#333333',
      values: runs.map((r) => (r ? pick(r) : undefined)),
      ...(lower ? { lower: runs.map((r) => (r ? lower(r) : undefined)) } : {}),
    };
  });
}

const charts: Record<string, string> = {
  'wait-p99.svg': renderBarChart({
    title: 'Contended: wait p99 by number of contending processes',
    subtitle: `${subtitle}; red = target at C = 32`,
    yLabel: 'wait p99, ms',
    groups,
    series: seriesBy((r) => r.waitP99Ms),
    log: true,
    marks: [{ value: 60, label: '60 ms' }],
  }),
  'fairness.svg': renderBarChart({
    title: 'Contended: fairness, acquisitions per contender min / max',
    subtitle: `${subtitle}; red = target`,
    yLabel: 'min / max (1 = every process got the same share)',
    groups,
    series: seriesBy((r) => r.fairness),
    yMax: 1,
    marks: [{ value: 0.8, label: '0.8' }],
  }),
  'commands.svg': renderBarChart({
    title: 'Contended: Redis commands per acquisition',
    subtitle: `${subtitle}; dark = sent by clients, light = called in scripts; red = target`,
    yLabel: 'commands per acquisition',
    groups,
    series: seriesBy(
      (r) => r.commandsPerAcquisition,
      (r) => r.topLevelPerAcquisition,
    ),
    log: true,
    marks: [{ value: 5, label: '5' }],
  }),
};

const waiterCounts = [...new Set(results.manyWaiters.map((r) => r.waiters))].sort((a, b) => a - b);
if (waiterCounts.length > 0) {
  charts['waiters.svg'] = renderBarChart({
    title: 'Many waiters: Redis commands per handoff by number of waiters',
    subtitle: `${subtitle}; dark = sent by clients, light = called in scripts`,
    yLabel: 'commands per handoff',
    groups: waiterCounts.map((w) => `W = ${w.toLocaleString('en-US')}`),
    series: results.libraries.map((lib) => {
      const runs = waiterCounts.map((w) =>
        results.manyWaiters.find((r) => r.lib === lib.id && r.waiters === w),
      );
      return {
        name: label(lib.id),
        color: COLORS[lib.id] ?? '#333333',
        values: runs.map((r) => r?.commandsPerHandoff),
        lower: runs.map((r) => r?.topLevelPerHandoff),
      };
    }),
    log: true,
  });
}

mkdirSync(outDir, { recursive: true });
for (const [name, svg] of Object.entries(charts)) {
  writeFileSync(join(outDir, name), svg);
  console.log(`wrote ${join(outDir, name)}`);
}
