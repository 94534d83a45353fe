/**
 * The soak's own verdict (issue 11, item 7): after a long random mix with the checker, nothing may
 * grow. Pure functions over the samples the soak took: Redis keys and memory during the run and
 * after the workers stopped, and each worker's JS heap (from its history's lag records).
 */
import type { WorkerHistory } from './attempts.js';
import type { Violation } from './checker.js';

/** What the soak read from Redis at one moment. */
export interface RedisSample {
  readonly at: number;
  readonly keys: number;
  readonly usedMemory: number;
}

export interface HeapSample {
  readonly worker: string;
  readonly at: number;
  readonly heapBytes: number;
}

export interface SoakInput {
  /** Redis before any worker started. */
  readonly baseline: RedisSample | undefined;
  /** Redis during the run, every few seconds (samples taken while it was down are missing). */
  readonly during: readonly RedisSample[];
  /** Redis after the workers stopped, until its keys were gone or the drain time ran out. */
  readonly drain: readonly RedisSample[];
  readonly heap: readonly HeapSample[];
  readonly acquisitions: number;
  readonly windowMs: number;
}

/**
 * Growth allowed between the first and the last quarter of a run (medians): a ratio and a floor
 * in bytes, so that a small heap's noise is not called growth. Generous: a leak of one object
 * per hand-over (100,000 of them) passes either.
 */
export const GROWTH = {
  ratio: 1.5,
  redisBytes: 4 * 2 ** 20,
  heapBytes: 16 * 2 ** 20,
} as const;

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Medians of the first and the last quarter of `values` (in time order). */
export function quarters(values: readonly number[]): { first: number; last: number } {
  const size = Math.max(1, Math.floor(values.length / 4));
  return { first: median(values.slice(0, size)), last: median(values.slice(-size)) };
}

function grew(first: number, last: number, floorBytes: number): boolean {
  return last > first * GROWTH.ratio + floorBytes;
}

/** The heap samples of every worker, from the `heapBytes` of its lag records. */
export function heapSamples(histories: readonly WorkerHistory[]): HeapSample[] {
  return histories.flatMap((history) =>
    history.events.flatMap((event) =>
      event.kind === 'lag' && event.heapBytes !== undefined
        ? [{ worker: history.worker, at: event.at, heapBytes: event.heapBytes }]
        : [],
    ),
  );
}

const MB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export function soakVerdict(input: SoakInput): {
  violations: Violation[];
  figures: Record<string, string | number>;
} {
  const violations: Violation[] = [];
  const lastDrain = input.drain.at(-1);
  const firstDrain = input.drain[0];
  if (lastDrain && lastDrain.keys > 0) {
    violations.push({
      property: 'keys-left',
      at: lastDrain.at,
      detail: `${lastDrain.keys} keys still in Redis ${Math.round((lastDrain.at - (firstDrain?.at ?? lastDrain.at)) / 1000)} s after the workers stopped`,
    });
  }
  const memory = quarters(input.during.map((sample) => sample.usedMemory));
  if (grew(memory.first, memory.last, GROWTH.redisBytes)) {
    violations.push({
      property: 'memory-growth',
      at: input.during.at(-1)?.at ?? 0,
      detail: `Redis used_memory grew from ${MB(memory.first)} to ${MB(memory.last)} (first and last quarter medians)`,
    });
  }
  // Workers that ran through most of the window: a replacement for a killed one has too short a
  // series to judge.
  const byWorker = new Map<string, HeapSample[]>();
  for (const sample of input.heap) {
    const list = byWorker.get(sample.worker);
    if (list) list.push(sample);
    else byWorker.set(sample.worker, [sample]);
  }
  let worstRatio = 0;
  let judged = 0;
  for (const [worker, samples] of byWorker) {
    const span = (samples.at(-1)?.at ?? 0) - (samples[0]?.at ?? 0);
    if (span < input.windowMs / 2) continue;
    judged++;
    const heap = quarters(samples.map((sample) => sample.heapBytes));
    worstRatio = Math.max(worstRatio, heap.last / heap.first);
    if (grew(heap.first, heap.last, GROWTH.heapBytes)) {
      violations.push({
        property: 'heap-growth',
        at: samples.at(-1)?.at ?? 0,
        worker,
        detail: `${worker}'s heap grew from ${MB(heap.first)} to ${MB(heap.last)} (first and last quarter medians)`,
      });
    }
  }
  const drainedAt = input.drain.find((sample) => sample.keys === 0)?.at;
  return {
    violations,
    figures: {
      'hand-overs': input.acquisitions,
      'hand-overs/s': Math.round(input.acquisitions / (input.windowMs / 1000)),
      'Redis keys, most during the run': Math.max(0, ...input.during.map((sample) => sample.keys)),
      'Redis keys after the workers stopped':
        lastDrain === undefined
          ? 'not sampled'
          : `${lastDrain.keys}${drainedAt === undefined || !firstDrain ? '' : ` (0 after ${Math.round((drainedAt - firstDrain.at) / 1000)} s)`}`,
      'Redis used_memory, first / last quarter':
        `${MB(memory.first)} / ${MB(memory.last)}` +
        (input.baseline ? ` (before the workers: ${MB(input.baseline.usedMemory)})` : ''),
      'Redis used_memory once drained': lastDrain ? MB(lastDrain.usedMemory) : 'not sampled',
      'worker heap, worst last/first quarter': `${worstRatio.toFixed(2)}× over ${judged} workers`,
    },
  };
}
