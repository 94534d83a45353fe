/**
 * Writes the fault-injection report: report.json (everything measured, per scenario) and
 * report.md (the same figures as tables, the expected weaknesses with their reasons, and every
 * unexpected violation).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { PropertyId, Violation } from './checker.js';
import type { ScenarioResult } from './scenario.js';
import type { Summary } from './stats.js';

export interface ReportMeta {
  readonly generatedAt: string;
  readonly command: string;
  readonly seed: number;
  readonly subset: 'full' | 'fast' | 'selected';
  readonly node: string;
  readonly redis: string;
  readonly cpus: number;
  readonly durationMs: number;
  /**
   * Rows that later partial runs replaced or added (FAULTS_MERGE=1), and by what run: one line
   * per merge, oldest first (a single string in reports from before merges were kept).
   */
  readonly rowsFrom?: string | readonly string[];
}

export interface Report {
  readonly meta: ReportMeta;
  readonly totals: {
    readonly scenarios: number;
    readonly passed: number;
    readonly faultsInjected: number;
    readonly acquisitions: number;
    readonly acquireCalls: number;
    readonly redisCommands: number;
    readonly resourceCalls: number;
    readonly unexpectedViolations: number;
    readonly expectedViolations: number;
  };
  readonly scenarios: readonly ScenarioResult[];
}

/** At most this many violations per scenario go into the files (all are counted). */
const VIOLATIONS_LISTED = 40;

export function buildReport(
  meta: Omit<ReportMeta, 'cpus'>,
  results: readonly ScenarioResult[],
): Report {
  const sum = (pick: (result: ScenarioResult) => number) =>
    results.reduce((total, result) => total + pick(result), 0);
  return {
    meta: { ...meta, cpus: cpus().length },
    totals: {
      scenarios: results.length,
      passed: results.filter((result) => result.passed).length,
      faultsInjected: sum((result) => result.faultsInjected),
      acquisitions: sum((result) => result.check.operations.acquired),
      acquireCalls: sum((result) => result.check.operations.acquires),
      redisCommands: sum((result) => result.check.operations.redisCommands),
      resourceCalls: sum((result) => result.check.operations.resourceCalls),
      unexpectedViolations: sum((result) => result.unexpected.length),
      expectedViolations: sum((result) => result.expected.length),
    },
    scenarios: results.map((result) => ({
      ...result,
      expected: result.expected.slice(0, VIOLATIONS_LISTED),
      unexpected: result.unexpected.slice(0, VIOLATIONS_LISTED),
      check: { ...result.check, violations: result.check.violations.slice(0, VIOLATIONS_LISTED) },
    })),
  };
}

function ms(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : String(Math.round(value));
}

function summary(value: Summary): string {
  return value.count === 0 ? '–' : `${ms(value.p50)} / ${ms(value.max)} (n=${value.count})`;
}

function countBy(violations: readonly Violation[]): string {
  const counts = new Map<PropertyId, number>();
  for (const violation of violations) {
    counts.set(violation.property, (counts.get(violation.property) ?? 0) + 1);
  }
  return counts.size === 0
    ? '0'
    : [...counts].map(([property, n]) => `${property} ${n}`).join(', ');
}

function totalOf(
  results: readonly ScenarioResult[],
  property: PropertyId,
  pick: 'unexpected' | 'all',
) {
  return results.reduce(
    (total, result) =>
      total +
      (pick === 'all' ? result.check.violations : result.unexpected).filter(
        (violation) => violation.property === property,
      ).length,
    0,
  );
}

function goals(report: Report): string[] {
  const results = report.scenarios;
  const inModel = results.filter((result) => result.inModel);
  const fenced = results.filter((result) => result.mode === 'fenced');
  const sumOver = (list: readonly ScenarioResult[], pick: (r: ScenarioResult) => number) =>
    list.reduce((total, result) => total + pick(result), 0);
  const staleWrites = (r: ScenarioResult) => r.check.resource.staleWritesAccepted;
  // Rows that document accepted stale writes (a fencing token granted twice, C1b).
  const staleExpected = fenced.filter(
    (r) => r.expectedProperties.includes('stale-write-accepted') && staleWrites(r) > 0,
  );
  const staleNote =
    staleExpected.length === 0
      ? ''
      : ` (${sumOver(staleExpected, staleWrites)} in rows that document it: ${staleExpected.map((r) => r.id).join(', ')})`;
  const lines = [
    '| Goal | What must hold | Measured |',
    '|---|---|---|',
    `| G1 | in-model faults: 0 overlapping holders | lease overlaps ${sumOver(inModel, (r) => r.check.violations.filter((v) => v.property === 'lease-overlap').length)}, resource overlaps ${sumOver(inModel, (r) => r.check.resource.overlaps)} over ${inModel.length} in-model runs |`,
    `| G2 | fenced: 0 accepted stale writes | ${sumOver(fenced, staleWrites)} accepted${staleNote}, ${sumOver(fenced, (r) => r.check.resource.rejected)} refused by the fence, over ${fenced.length} fenced runs, FLUSHALL and restarts without persistence included (fencing tokens come from the server clock) |`,
    `| G3 | no success after validity | acquire ${totalOf(results, 'acquire-after-validity', 'all')}, extend ${totalOf(results, 'extend-after-validity', 'all')}, isHeld ${totalOf(results, 'held-after-validity', 'all')}, unexplained ${totalOf(results, 'unexplained-success', 'all')} |`,
    `| G4 | loss signalled ≤ refreshMs + 100 ms | late ${totalOf(results, 'late-signal', 'all')}, missing ${totalOf(results, 'missing-signal', 'all')} |`,
    `| G5 | next holder ≤ ttl + 200 ms after SIGKILL | slow ${totalOf(results, 'slow-takeover', 'all')}; takeovers ${
      results
        .flatMap((r) => r.check.takeoverMs)
        .map(ms)
        .join(', ') || '–'
    } ms |`,
    `| G6 | every op within its timeout | over-time ops ${totalOf(results, 'op-timeout', 'all')} |`,
  ];
  return lines;
}

export function renderMarkdown(report: Report): string {
  const { meta, totals } = report;
  const lines: string[] = [
    '# latchkey fault-injection report',
    '',
    `Generated ${meta.generatedAt} by \`${meta.command}\` (${meta.subset} run, seed ${meta.seed}, ` +
      `${Math.round(meta.durationMs / 1000)} s) on Node ${meta.node}, ${meta.redis}, ${meta.cpus} CPUs. ` +
      'Single-node Redis (safety.md §6.4 R1–R10, M1, the issue 8 rows I8-*, the issue 11 rows I11-* (a waiter stopped or cut off) and the lock kinds K-*) ' +
      'and Redis Cluster (the issue 12 rows C*, on 3 masters with a replica each, cluster-node-timeout 1000 ms: the lock’s master killed and its replica promoted, ' +
      'its slot migrated, a manual failover, its shard stopped) and Redis Sentinel (the issue 12 rows S*, a primary with 2 replicas and 3 Sentinels, down-after 1000 ms: the primary killed and a replica promoted, ' +
      'a planned SENTINEL FAILOVER, each also with the `replicas` option); Redlock and etcd are not covered yet.',
    ...(meta.rowsFrom
      ? ['', ...mergeNotes(meta.rowsFrom, new Set()), 'The other rows are from the run above.']
      : []),
    '',
    `**${totals.scenarios} scenario runs, ${totals.passed} passed; ${totals.faultsInjected} faults ` +
      `injected; ${totals.acquisitions} acquisitions (handoffs) out of ${totals.acquireCalls} acquire ` +
      `calls; ${totals.redisCommands} lock commands; ${totals.resourceCalls} resource calls; ` +
      `${totals.unexpectedViolations} unexpected and ${totals.expectedViolations} expected violations.**`,
    '',
    'Settings: ttl 1000 ms, refresh 300 ms, commandTimeoutMs 500 ms, waitMs 3000 ms, ' +
      'driftFactor 0.01 (drift 12 ms). Workers alternate ioredis and node-redis (on a Cluster their cluster clients, ioredis `Cluster` and node-redis `createCluster`; through Sentinel ioredis only, with `sentinels`), with options that ' +
      'never replay a lock command after a reconnect unless a scenario says "defaults". Times are ms.',
    '',
    '## Goals',
    '',
    ...goals(report),
    '',
    '## Scenarios',
    '',
    '| Run | Fault | Resource | Model | Faults | Acquired / calls | Unexpected | Expected | Signal after validity p50 / max | Signal after key loss p50 / max | Next grant after each fault (kill→ = takeover after SIGKILL) | acquire / extend / release max | Lag p99 / max (unfaulted) | Result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const result of report.scenarios) {
    const { check } = result;
    const recovery = [
      ...check.takeoverMs.map((value) => `kill→${ms(value)}`),
      ...check.recoveryMs.map((entry) => ms(entry.ms)),
    ].join(', ');
    lines.push(
      `| ${result.id} | ${result.title} | ${result.mode} | ${result.inModel ? 'in' : 'out'} | ` +
        `${result.faultsInjected} | ${check.operations.acquired} / ${check.operations.acquires} | ` +
        `${countBy(result.unexpected)} | ${countBy(result.expected)} | ` +
        `${summary(check.signalAfterValidityMs)} | ${summary(check.signalAfterKeyLossMs)} | ` +
        `${recovery || '–'} | ${ms(check.opDurationMs.acquire.max)} / ${ms(check.opDurationMs.extend.max)} / ${ms(check.opDurationMs.release.max)} | ` +
        `${ms(check.lag.unfaultedP99Max)} / ${ms(check.lag.unfaultedMax)} | ${result.passed ? 'pass' : '**FAIL**'} |`,
    );
  }
  lines.push(
    '',
    'Resource figures per run (refused = stale calls the fence stopped; false refusals = the latest',
    'holder turned away, which happens once the token source was reset):',
    '',
    '| Run | Resource | Writes accepted | Refused | False refusals | Overlaps | Stale writes accepted | Lost updates | Losses signalled | Releases | Abandoned grants |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const result of report.scenarios) {
    const { operations, resource } = result.check;
    const entries = (record: Record<string, number>) =>
      Object.entries(record)
        .map(([key, value]) => `${key} ${value}`)
        .join(', ') || '0';
    lines.push(
      `| ${result.id} | ${result.mode} | ${operations.writesAccepted} | ${resource.rejected} | ` +
        `${resource.falseRejections} | ${resource.overlaps} | ${resource.staleWritesAccepted} | ` +
        `${resource.lostUpdates} | ${entries(operations.losses)} | ${entries(operations.releases)} | ` +
        `${operations.abandonedGrants} |`,
    );
  }
  const ownChecks = report.scenarios.filter(
    (result) => result.checks !== undefined || Object.keys(result.figures ?? {}).length > 0,
  );
  if (ownChecks.length > 0) {
    lines.push(
      '',
      '## Rows with checks of their own',
      '',
      '| Run | Fault | What it checks | Measured | Result |',
      '|---|---|---|---|---|',
    );
    for (const result of ownChecks) {
      const figures = Object.entries(result.figures ?? {})
        .map(([name, value]) => `${name}: ${value}`)
        .join('; ');
      lines.push(
        `| ${result.id} | ${result.title} | ${result.checks ?? '–'} | ${figures || '–'}; unexpected ${countBy(result.unexpected)} | ${result.passed ? 'pass' : '**FAIL**'} |`,
      );
    }
  }
  const weaknesses = report.scenarios.filter((result) => result.expectedProperties.length > 0);
  lines.push('', '## Expected, documented weaknesses', '');
  for (const result of weaknesses) {
    lines.push(
      `- **${result.id} ${result.title} (${result.mode})**: ${countBy(result.expected)}. ${result.expectedBecause ?? ''}`,
    );
  }
  lines.push('', '## Unexpected violations', '');
  const failing = report.scenarios.filter((result) => !result.passed);
  if (failing.length === 0) lines.push('None.');
  for (const result of failing) {
    lines.push(`### ${result.id} ${result.title} (${result.mode})`, '');
    if (result.error) lines.push('```', result.error.split('\n').slice(0, 6).join('\n'), '```', '');
    if (result.check.operations.acquired === 0) lines.push('- no acquisition succeeded');
    for (const violation of result.unexpected) {
      lines.push(`- ${violation.property}: ${violation.detail}`);
    }
    if (result.logsDir) lines.push('', `Logs: \`${result.logsDir}\``);
    lines.push('');
  }
  lines.push(
    '',
    '## How to run',
    '',
    '- `npm run test:faults`: the checker unit tests, the bad-input property tests, then every scenario; writes this file and report.json.',
    "- `FAULTS_ONLY=R2,R7 npm run test:faults`: selected runs; `FAULTS_SEED=<n>`: replay a seed (the M1 schedule and every worker's choices); `FAULTS_KEEP_LOGS=1`: keep the JSONL logs of passing runs under `.tmp/faults/`.",
    '- `npx vitest run --config vitest.faults.config.ts`: the fast subset (asserts the timing-independent properties only).',
    '',
    'Fault timeline per run (in order):',
    '',
  );
  for (const result of report.scenarios) {
    lines.push(`- ${result.id} (${result.mode}): ${result.faultLog.join('; ') || '–'}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A report with `partial`'s scenario runs in place of the runs of `base` with the same id, mode
 * and title (appended when new), totals recomputed. For regenerating some rows of a full report.
 */
export function mergeReports(base: Report, partial: Report): Report {
  // A row is its id and resource mode (R2 runs fenced and unfenced); its title may have changed.
  const same = (a: ScenarioResult, b: ScenarioResult) => a.id === b.id && a.mode === b.mode;
  const scenarios = base.scenarios.map(
    (old) => partial.scenarios.find((fresh) => same(old, fresh)) ?? old,
  );
  for (const fresh of partial.scenarios) {
    if (!scenarios.some((old) => same(old, fresh))) scenarios.push(fresh);
  }
  const ids = partial.scenarios.map((result) => result.id).join(', ');
  const line = `Rows ${ids} are from \`${partial.meta.command}\` (seed ${partial.meta.seed}, ${Math.round(partial.meta.durationMs / 1000)} s) at ${partial.meta.generatedAt}, on the library of that day.`;
  const replaced = new Set(partial.scenarios.map((result) => result.id));
  const earlier = base.meta.rowsFrom === undefined ? [] : mergeNotes(base.meta.rowsFrom, replaced);
  return buildReport({ ...base.meta, rowsFrom: [...earlier, line] }, scenarios);
}

/**
 * The merge notes, one line per merge (reports before merges were kept had one string), less the
 * rows a newer merge replaced: a line whose rows are all replaced goes.
 */
export function mergeNotes(
  rowsFrom: string | readonly string[],
  replaced: ReadonlySet<string>,
): string[] {
  const lines = typeof rowsFrom === 'string' ? [rowsFrom] : [...rowsFrom];
  return lines
    .map((line) => line.replace(/; the other rows are from the run above\.$/, '.'))
    .flatMap((line) => {
      const match = /^Rows (.+?) (are|is) from /.exec(line);
      if (!match?.[1]) return [line];
      const kept = match[1].split(', ').filter((id) => !replaced.has(id));
      if (kept.length === 0) return [];
      return [`Rows ${kept.join(', ')} are from ${line.slice(match[0].length)}`];
    });
}

export function writeReport(dir: string, report: Report): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), renderMarkdown(report));
}
