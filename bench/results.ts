/** The shape of bench/results/latest.json, written by run.ts and read by charts.ts. */
import type { CommandOrigins } from './command-audit.js';
import type { BenchConfig } from './config.js';
import type { ClusterResult } from './scenarios/cluster.js';
import type { ContendedResult } from './scenarios/contended.js';
import type { FamilyResult } from './scenarios/lock-family.js';
import type { ManyWaitersResult } from './scenarios/many-waiters.js';
import type { ReadWriteResult, ReadWriteWaitersResult } from './scenarios/read-write.js';
import type { ReentrantResult } from './scenarios/reentrant.js';
import type { SemaphoreResult } from './scenarios/semaphore.js';
import type { ManyKeysSummary, UncontendedResult } from './scenarios/single-process.js';
import type { TargetResult } from './targets.js';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly redis: string;
  /** 1-minute load average when the run started: other work on the machine skews figures. */
  readonly loadAverageAtStart: number;
}

export interface LibraryInfo {
  readonly id: string;
  readonly label: string;
  readonly waiting: string;
}

export interface BenchResults {
  readonly date: string;
  readonly durationSec: number;
  readonly machine: MachineInfo;
  readonly config: BenchConfig;
  readonly libraries: readonly LibraryInfo[];
  readonly method: Readonly<Record<string, string>>;
  readonly uncontended: Readonly<Record<string, UncontendedResult>>;
  readonly contended: readonly ContendedResult[];
  readonly manyKeys: Readonly<Record<string, ManyKeysSummary>>;
  readonly manyWaiters: readonly ManyWaitersResult[];
  readonly semaphore: readonly SemaphoreResult[];
  readonly readWrite: readonly ReadWriteResult[];
  readonly readWriteWaiters: readonly ReadWriteWaitersResult[];
  /** Scenario 7 (absent in results from before it). */
  readonly family?: readonly FamilyResult[];
  /** Scenario 8 (absent in results from before it). */
  readonly reentrant?: readonly ReentrantResult[];
  /** Scenario 10, on Redis Clusters (absent in results from before it). */
  readonly cluster?: ClusterResult;
  readonly commandAudit: Readonly<Record<string, CommandOrigins>>;
  readonly targets: readonly TargetResult[];
}
