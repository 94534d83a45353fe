/**
 * Scenario 2, contended: C processes on one key, hold 1 ms, straight back to acquire. For each C
 * the libraries run one after another (rotating the order per C), each in a fresh window, with
 * the lock server's counters reset before and read at the end of the window.
 * Also the MONITOR audit (command-audit.ts) that splits client commands from script commands.
 */

import { nowUs, sleepUntilUs } from '../clock.js';
import { auditCommands, type CommandOrigins, topLevelCalls } from '../command-audit.js';
import { type BenchContext, rotated } from '../context.js';
import type { LibraryId } from '../libs/index.js';
import { WorkerPool } from '../pool.js';
import type { ContendResult, FamilyRun, ReadWriteMix } from '../protocol.js';
import { type ServerSnapshot, totalCalls } from '../redis-stats.js';
import { per } from '../stats.js';
import { analyzeContended, type ContendedFigures } from './contended-analysis.js';

export interface ContendedResult extends ContendedFigures {
  readonly lib: LibraryId;
  readonly contenders: number;
  readonly windowMs: number;
  /** All commands the lock server ran per acquisition, including those scripts called. */
  readonly commandsPerAcquisition: number;
  /** Commands sent by clients per acquisition (estimated with the audit's shares). */
  readonly topLevelPerAcquisition: number;
  readonly redisCpuUsPerAcquisition: number;
  readonly commands: Record<string, number>;
}

/** Time between sending the start message and the window opening, for IPC to reach everyone. */
const START_DELAY_US = 150_000;

export async function contendOnce(
  context: BenchContext,
  lib: LibraryId,
  contenders: number,
  durationMs: number,
  label: string,
  options: {
    readonly during?: (run: () => Promise<ContendResult[]>) => Promise<ContendResult[]>;
    /** Contend for one of `limit` semaphore permits instead of the lock. */
    readonly limit?: number;
    /** Read or write each turn (worker i draws from seed i, whatever the library). */
    readonly readWrite?: Omit<ReadWriteMix, 'seed'>;
    /** Take a lock-family kind each turn (worker i draws multi-lock names from seed i). */
    readonly family?: Omit<FamilyRun, 'seed'>;
  } = {},
): Promise<{ results: ContendResult[]; snapshot: ServerSnapshot; windowUs: number }> {
  const { pool, lockServer, checker, stats, config } = context;
  const workers = pool.take(contenders);
  const key = `bench:contended:${label}:${lib}:${contenders}`;
  const occupancyKey = `occupancy:${label}:${lib}:${contenders}`;
  await stats.command('FLUSHALL');
  await checker.command('DEL', occupancyKey);
  const openedAt = performance.now();
  await WorkerPool.all(workers, () => ({
    kind: 'open',
    lib,
    url: lockServer.url,
    warmupPairs: config.warmupPairs,
    ...(options.readWrite?.lock === 'read-write' ? { warmReadWrite: true } : {}),
    ...(options.family ? { warmFamily: { ...options.family, seed: 0 } } : {}),
  }));
  const ranAt = performance.now();
  try {
    await stats.reset();
    const startAtUs = nowUs() + START_DELAY_US;
    const endAtUs = startAtUs + durationMs * 1000;
    const snapshotAtEnd = sleepUntilUs(endAtUs).then(() => stats.snapshot());
    const run = () =>
      WorkerPool.all<ContendResult>(workers, (worker) => ({
        kind: 'contend',
        key,
        checkerUrl: checker.url,
        occupancyKey,
        startAtUs,
        endAtUs,
        drainMs: config.contended.drainMs,
        holdMs: config.holdMs,
        ttlMs: config.ttlMs,
        ...(options.limit === undefined ? {} : { limit: options.limit }),
        ...(options.readWrite === undefined
          ? {}
          : { readWrite: { ...options.readWrite, seed: worker.index } }),
        ...(options.family === undefined
          ? {}
          : { family: { ...options.family, seed: worker.index } }),
      }));
    const { during } = options;
    const results = await (during ? during(run) : run());
    return { results, snapshot: await snapshotAtEnd, windowUs: endAtUs - startAtUs };
  } finally {
    const closingAt = performance.now();
    await WorkerPool.all(workers, () => ({ kind: 'close' }));
    context.log(
      `  ${lib} C=${contenders}: open ${ms(ranAt - openedAt)}, run ${ms(closingAt - ranAt)}, close ${ms(performance.now() - closingAt)}`,
    );
  }
}

const ms = (value: number) => `${Math.round(value)} ms`;

/** Learns, per library, which share of each command name its clients send (vs its scripts). */
export async function auditLibraries(
  context: BenchContext,
): Promise<Record<string, CommandOrigins>> {
  const audits: Record<string, CommandOrigins> = {};
  for (const lib of context.libs) {
    context.log(`command audit: ${lib}`);
    let origins: CommandOrigins = {};
    await contendOnce(
      context,
      lib,
      context.config.audit.contenders,
      context.config.audit.durationMs,
      'audit',
      {
        during: async (run) => {
          let results: ContendResult[] = [];
          origins = await auditCommands(context.lockServer.port, async () => {
            results = await run();
          });
          return results;
        },
      },
    );
    audits[lib] = origins;
  }
  return audits;
}

export async function runContended(
  context: BenchContext,
  audits: Record<string, CommandOrigins>,
): Promise<ContendedResult[]> {
  const out: ContendedResult[] = [];
  const { contenders: counts, durationMs } = context.config.contended;
  for (const [round_, contenders] of counts.entries()) {
    for (const lib of rotated(context.libs, round_)) {
      context.log(`contended: C=${contenders} ${lib}`);
      const { results, snapshot, windowUs } = await contendOnce(
        context,
        lib,
        contenders,
        durationMs,
        'run',
      );
      const figures = analyzeContended(results, windowUs);
      const perAcquisition = per(figures.acquisitions);
      out.push({
        lib,
        contenders,
        windowMs: windowUs / 1000,
        ...figures,
        commandsPerAcquisition: perAcquisition(totalCalls(snapshot.calls)),
        topLevelPerAcquisition: perAcquisition(topLevelCalls(snapshot.calls, audits[lib])),
        redisCpuUsPerAcquisition: perAcquisition(snapshot.cpuSeconds * 1e6),
        commands: Object.fromEntries(snapshot.calls),
      });
    }
  }
  return out;
}
