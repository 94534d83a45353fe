/** The markdown report printed on stdout: one table per scenario, the targets, and the method. */
import type { BenchResults } from './results.js';

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function num(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** Scenario 8's ways of taking the lock, as the report names them. */
const REENTRANT_LABELS: Readonly<Record<string, string>> = {
  mutex: 'mutex (baseline)',
  owner: 'reentrant, by owner id',
  nested: 'reentrant, nested in withLock',
  'same-owner': 'reentrant, same owner id from another process (held)',
};

export function renderReport(results: BenchResults): string {
  const label = (id: string) => results.libraries.find((lib) => lib.id === id)?.label ?? id;
  const m = results.machine;
  const parts: string[] = [];
  parts.push(
    `## latchkey benchmark (${results.config.mode} run, ${results.date})`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; redis-server ${m.redis}; load average at start ${m.loadAverageAtStart}. Run took ${results.durationSec} s.`,
    '',
    table(
      ['Library', 'Waits by (defaults)'],
      results.libraries.map((lib) => [lib.label, lib.waiting]),
    ),
  );

  parts.push(
    '',
    '### 1. Uncontended: sequential acquire + release, one key',
    '',
    table(
      ['Library', 'pairs', 'pair p50 µs', 'pair p99 µs', 'PING p50 µs', 'pair/PING p50'],
      Object.entries(results.uncontended).map(([id, r]) => [
        label(id),
        r.pairs,
        num(r.pairP50Us),
        num(r.pairP99Us),
        num(r.pingP50Us),
        num(r.ratioP50),
      ]),
    ),
  );

  const counts = [...new Set(results.contended.map((r) => r.contenders))];
  for (const contenders of counts) {
    parts.push(
      '',
      `### 2. Contended: C = ${contenders} processes, one key, hold ${results.config.holdMs} ms`,
      '',
      table(
        [
          'Library',
          'acq/s',
          'wait p50 / p99 / max ms',
          'release→other holder p50 / p99 ms',
          'self re-acq',
          'per contender min/max',
          'cmds/acq (all)',
          'client cmds/acq',
          'Redis CPU µs/acq',
          'max holders',
          'give-ups',
        ],
        results.contended
          .filter((r) => r.contenders === contenders)
          .map((r) => [
            label(r.lib),
            num(r.acquisitionsPerSec),
            `${num(r.waitP50Ms)} / ${num(r.waitP99Ms)} / ${num(r.waitMaxMs)}`,
            `${num(r.handoffP50Ms)} / ${num(r.handoffP99Ms)}`,
            `${num(r.selfShare * 100)}%`,
            `${r.perContenderMin}/${r.perContenderMax}`,
            num(r.commandsPerAcquisition),
            num(r.topLevelPerAcquisition),
            num(r.redisCpuUsPerAcquisition),
            r.maxHolders,
            r.giveUps + (r.errors > 0 ? ` (+${r.errors} errors)` : ''),
          ]),
      ),
    );
  }

  const floor = results.manyKeys.raw?.opsPerSec;
  parts.push(
    '',
    `### 3. Many keys: one process, ${results.config.manyKeys.tasks} concurrent tasks, each on its own key`,
    '',
    table(
      ['Library', 'acquire+release /s', '% of raw floor', 'per round'],
      Object.entries(results.manyKeys).map(([id, r]) => [
        label(id),
        num(r.opsPerSec),
        floor ? `${num((r.opsPerSec / floor) * 100)}%` : '–',
        r.perRoundOpsPerSec.map(num).join(', '),
      ]),
    ),
  );

  parts.push(
    '',
    `### 4. Many waiters: W waiters on one lock over ${results.config.manyWaiters.processes} processes, ${results.config.manyWaiters.windowMs} ms window`,
    '',
    table(
      [
        'Library',
        'W',
        'handoffs/s',
        'cmds/handoff (all)',
        'client cmds/handoff',
        'Redis CPU µs/handoff',
        'Redis cmds/s',
        'Redis CPU (1 core = 100%)',
        'client heap B/waiter',
        'give-ups',
      ],
      [...results.manyWaiters]
        .sort((a, b) => a.lib.localeCompare(b.lib) || a.waiters - b.waiters)
        .map((r) => [
          label(r.lib),
          r.waiters.toLocaleString('en-US'),
          num(r.handoffsPerSec),
          num(r.commandsPerHandoff),
          num(r.topLevelPerHandoff),
          num(r.redisCpuUsPerHandoff),
          num(r.commandsPerSec),
          `${num(r.redisCpuShare * 100)}%`,
          num(r.heapBytesPerWaiter),
          r.giveUps + (r.errors > 0 ? ` (+${r.errors} errors)` : ''),
        ]),
    ),
  );

  for (const contenders of [...new Set(results.semaphore.map((r) => r.contenders))]) {
    const limit = results.semaphore.find((r) => r.contenders === contenders)?.limit;
    const rows = results.semaphore.filter((r) => r.contenders === contenders);
    const peer = rows.find((r) => !r.lib.startsWith('latchkey-'));
    parts.push(
      '',
      `### 5. Semaphore: N = ${limit} permits, C = ${contenders} processes, hold ${results.config.holdMs} ms`,
      '',
      table(
        [
          'Library',
          'acq/s',
          'wait p50 / p99 / max ms',
          `wait p99 vs ${peer ? label(peer.lib) : 'peer'}`,
          'per contender min/max',
          'cmds/acq (all)',
          'Redis CPU µs/acq',
          'max holders',
          'give-ups',
        ],
        rows.map((r) => [
          label(r.lib),
          num(r.acquisitionsPerSec),
          `${num(r.waitP50Ms)} / ${num(r.waitP99Ms)} / ${num(r.waitMaxMs)}`,
          peer && r.waitP99Ms > 0 ? `${num(round2(peer.waitP99Ms / r.waitP99Ms))}× lower` : '–',
          `${r.perContenderMin}/${r.perContenderMax} (${num(r.fairness)})`,
          num(r.commandsPerAcquisition),
          num(r.redisCpuUsPerAcquisition),
          r.maxHolders,
          r.giveUps + (r.errors > 0 ? ` (+${r.errors} errors)` : ''),
        ]),
      ),
    );
  }

  const rwLabel = (id: string, lock: string) =>
    label(id).replace(/^latchkey /, `latchkey ${lock === 'read-write' ? 'rw' : lock} `);
  for (const contenders of [...new Set(results.readWrite.map((r) => r.contenders))]) {
    const rows = results.readWrite.filter((r) => r.contenders === contenders);
    const mutexOf = (lib: string) => rows.find((r) => r.lib === lib && r.lock === 'mutex');
    parts.push(
      '',
      `### 6. Read-write lock, ${rows[0]?.readPercent} % reads: C = ${contenders} processes, one name, hold ${results.config.holdMs} ms`,
      '',
      table(
        [
          'Lock',
          'acq/s (reads + writes)',
          'vs mutex',
          'read wait p50 / p99 / max ms',
          'write wait p50 / p99 / max ms',
          'per contender min/max',
          'cmds/acq (all)',
          'Redis CPU µs/acq',
          'writer overlaps',
          'max readers',
          'give-ups',
        ],
        [...rows]
          .sort((a, b) => a.lib.localeCompare(b.lib) || a.lock.localeCompare(b.lock) * -1)
          .map((r) => {
            const mutex = mutexOf(r.lib);
            return [
              rwLabel(r.lib, r.lock),
              `${num(r.acquisitionsPerSec)} (${num(r.readsPerSec)} + ${num(r.writesPerSec)})`,
              mutex && r.lock !== 'mutex' && mutex.acquisitionsPerSec > 0
                ? `${num(round2(r.acquisitionsPerSec / mutex.acquisitionsPerSec))}×`
                : '–',
              `${num(r.readWaitP50Ms)} / ${num(r.readWaitP99Ms)} / ${num(r.readWaitMaxMs)}`,
              `${num(r.writeWaitP50Ms)} / ${num(r.writeWaitP99Ms)} / ${num(r.writeWaitMaxMs)}`,
              `${r.perContenderMin}/${r.perContenderMax} (${num(r.fairness)})`,
              num(r.commandsPerAcquisition),
              num(r.redisCpuUsPerAcquisition),
              r.writerOverlaps,
              r.maxReaders,
              r.giveUps + (r.errors > 0 ? ` (+${r.errors} errors)` : ''),
            ];
          }),
      ),
    );
  }

  if (results.readWriteWaiters.length > 0) {
    parts.push(
      '',
      `### 6. Read-write lock, ${results.readWriteWaiters[0]?.readPercent} % reads: W waiters over ${results.config.manyWaiters.processes} processes, ${results.config.manyWaiters.windowMs} ms window`,
      '',
      table(
        [
          'Lock',
          'W',
          'grants/s',
          'reads',
          'cmds/grant (all)',
          'Redis CPU µs/grant',
          'Redis cmds/s',
          'Redis CPU (1 core = 100%)',
          'client heap B/waiter',
          'give-ups',
        ],
        [...results.readWriteWaiters]
          .sort((a, b) => a.lib.localeCompare(b.lib) || a.waiters - b.waiters)
          .map((r) => [
            rwLabel(r.lib, 'read-write'),
            r.waiters.toLocaleString('en-US'),
            num(r.grantsPerSec),
            `${num(r.readShare * 100)}%`,
            num(r.commandsPerGrant),
            num(r.redisCpuUsPerGrant),
            num(r.commandsPerSec),
            `${num(r.redisCpuShare * 100)}%`,
            num(r.heapBytesPerWaiter),
            r.giveUps + (r.errors > 0 ? ` (+${r.errors} errors)` : ''),
          ]),
      ),
    );
  }

  const family = results.family ?? [];
  for (const contenders of [...new Set(family.map((r) => r.contenders))]) {
    const rows = family.filter((r) => r.contenders === contenders);
    const baseline = (lib: string) =>
      rows.find((r) => r.lib === lib && r.lock === 'mutex')?.acquisitionsPerSec;
    const multi = rows.find((r) => r.lock === 'multi');
    parts.push(
      '',
      `### 7. Lock family: C = ${contenders} processes, one name (multi-lock: ${multi?.pick ?? 2} of ${multi?.names ?? 4} names), hold ${results.config.holdMs} ms`,
      '',
      table(
        [
          'Library',
          'Kind',
          'acq/s',
          'vs its mutex',
          'wait p50 / p99 / max ms',
          'release→other holder p50 / p99 ms',
          'per contender min/max',
          'cmds/acq (all)',
          'Redis CPU µs/acq',
          'max holders per name',
          'give-ups',
        ],
        rows.map((r) => {
          const mutex = baseline(r.lib);
          return [
            label(r.lib),
            r.lock,
            num(r.acquisitionsPerSec),
            mutex && r.lock !== 'mutex' ? `${num(round2(r.acquisitionsPerSec / mutex))}×` : '–',
            `${num(r.waitP50Ms)} / ${num(r.waitP99Ms)} / ${num(r.waitMaxMs)}`,
            // Multi-lock holds of disjoint names overlap: there is no single next holder.
            r.lock === 'multi' ? '–' : `${num(r.handoffP50Ms)} / ${num(r.handoffP99Ms)}`,
            `${r.perContenderMin}/${r.perContenderMax} (${num(r.fairness)})`,
            num(r.commandsPerAcquisition),
            num(r.redisCpuUsPerAcquisition),
            r.maxHolders,
            r.giveUps + (r.errors > 0 ? ` (+${r.errors} errors)` : ''),
          ];
        }),
      ),
    );
  }

  const reentrant = results.reentrant ?? [];
  if (reentrant.length > 0) {
    parts.push(
      '',
      '### 8. Reentrant lock: what re-entry costs, one process, uncontended',
      '',
      'No Node library in this benchmark has a reentrant lock: latchkey rows only, against its own mutex.',
      '',
      table(
        [
          'Library',
          'Acquire + release',
          'pairs',
          'p50 µs',
          'p99 µs',
          'p50 vs mutex',
          'cmds/pair (all)',
          'scripts/pair',
          'Redis CPU µs/pair',
        ],
        reentrant.map((r) => [
          label(r.lib),
          REENTRANT_LABELS[r.op] ?? r.op,
          r.pairs,
          num(r.p50Us),
          num(r.p99Us),
          r.op === 'mutex' ? '–' : `${num(r.vsMutexP50)}×`,
          num(r.commandsPerPair),
          num(r.scriptsPerPair),
          num(r.redisCpuUsPerPair),
        ]),
      ),
    );
  }

  const cluster = results.cluster;
  if (cluster) {
    const opsOn = (lib: string, masters: number) =>
      cluster.manyKeys.find((r) => r.lib === lib && r.masters === masters);
    const clusterLibs = [...new Set(cluster.manyKeys.map((r) => r.lib))];
    parts.push(
      '',
      `### 10. Redis Cluster: many keys on 1 and 3 masters, C processes on one key on 3 masters`,
      '',
      table(
        ['Library', 'many keys, 1 master (acq+rel/s)', '3 masters (acq+rel/s)', '3 vs 1'],
        clusterLibs.map((lib) => {
          const [one, three] = [opsOn(lib, 1), opsOn(lib, 3)];
          return [
            label(lib),
            one ? `${num(one.opsPerSec)}${one.errors ? ` (${one.errors} errors)` : ''}` : '–',
            three
              ? `${num(three.opsPerSec)}${three.errors ? ` (${three.errors} errors)` : ''}`
              : '–',
            one && three ? `${num(three.opsPerSec / one.opsPerSec)}×` : '–',
          ];
        }),
      ),
      '',
      table(
        [
          'Library',
          'C',
          'acq/s',
          'wait p50 ms',
          'wait p99 ms',
          'max holders',
          'cmds/acq (all nodes)',
          'SPUBLISH/acq on the lock master',
          'SPUBLISH/acq elsewhere',
          'PUBLISH/acq (all nodes)',
        ],
        cluster.contended.map((r) => {
          const onLockMaster = r.pubsubPerNode.filter((n) => n.role === 'lock master');
          const elsewhere = r.pubsubPerNode.filter((n) => n.role !== 'lock master');
          const sum = (
            nodes: typeof r.pubsubPerNode,
            pick: (n: (typeof nodes)[number]) => number,
          ) => nodes.reduce((total, node) => total + pick(node), 0);
          return [
            label(r.lib),
            r.contenders,
            num(r.acquisitionsPerSec),
            num(r.waitP50Ms),
            num(r.waitP99Ms),
            r.maxHolders,
            num(r.commandsPerAcquisition),
            num(sum(onLockMaster, (n) => n.spublishPerAcquisition)),
            num(sum(elsewhere, (n) => n.spublishPerAcquisition)),
            num(sum(r.pubsubPerNode, (n) => n.publishPerAcquisition)),
          ];
        }),
      ),
    );
  }

  parts.push(
    '',
    "### Targets (latchkey's default mutex and the lock family)",
    '',
    table(
      ['Adapter', 'Target', 'Measured', 'Result'],
      results.targets.map((t) => [
        label(t.lib),
        t.target,
        t.measured,
        t.pass === undefined ? 'not measured' : t.pass ? 'pass' : '**FAIL**',
      ]),
    ),
  );

  parts.push(
    '',
    '### Method',
    '',
    ...Object.entries(results.method).map(([name, text]) => `- **${name}:** ${text}`),
  );
  return `${parts.join('\n')}\n`;
}
