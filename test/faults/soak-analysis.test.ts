import { describe, expect, it } from 'vitest';
import {
  GROWTH,
  type HeapSample,
  quarters,
  type RedisSample,
  soakVerdict,
} from './soak-analysis.js';

const MB = 2 ** 20;

function redis(count: number, memory: (i: number) => number): RedisSample[] {
  return Array.from({ length: count }, (_, i) => ({
    at: i * 5_000,
    keys: 5,
    usedMemory: memory(i),
  }));
}

function heap(worker: string, count: number, bytes: (i: number) => number): HeapSample[] {
  return Array.from({ length: count }, (_, i) => ({ worker, at: i * 1_000, heapBytes: bytes(i) }));
}

const flat = {
  baseline: { at: 0, keys: 0, usedMemory: 1 * MB },
  during: redis(40, (i) => 2 * MB + (i % 3) * 0.1 * MB),
  drain: [
    { at: 200_000, keys: 12, usedMemory: 2 * MB },
    { at: 262_000, keys: 0, usedMemory: 1.1 * MB },
  ],
  heap: [...heap('w1', 200, (i) => 20 * MB + (i % 7) * MB), ...heap('w2', 200, () => 25 * MB)],
  acquisitions: 100_000,
  windowMs: 200_000,
};

describe('soak › verdict', () => {
  it('passes a run whose keys drain and whose memory and heaps stay flat, with its figures', () => {
    const { violations, figures } = soakVerdict(flat);
    expect(violations).toEqual([]);
    expect(figures['hand-overs/s']).toBe(500);
    expect(figures['Redis keys after the workers stopped']).toBe('0 (0 after 62 s)');
  });

  it('flags keys left, Redis memory that grows, and a worker heap that grows; not a short-lived worker', () => {
    const leaking = {
      ...flat,
      during: redis(40, (i) => 2 * MB + i * 0.5 * MB),
      drain: [{ at: 200_000, keys: 3, usedMemory: 2 * MB }],
      heap: [
        ...heap('w1', 200, (i) => 20 * MB + i * 0.5 * MB),
        // A replacement that ran for a tenth of the window: too short to judge.
        ...heap('w9', 20, (i) => 10 * MB + i * 10 * MB),
      ],
    };
    const properties = soakVerdict(leaking).violations.map(
      (v) => `${v.property} ${v.worker ?? ''}`,
    );
    expect(properties).toEqual(['keys-left ', 'memory-growth ', 'heap-growth w1']);
  });

  it('compares the medians of the first and the last quarter, with a floor for noise', () => {
    expect(quarters([1, 2, 3, 4, 5, 6, 7, 8])).toEqual({ first: 1.5, last: 7.5 });
    const noisy = soakVerdict({
      ...flat,
      heap: heap('w1', 200, (i) => (i < 150 ? 4 * MB : 4 * MB + GROWTH.heapBytes)),
    });
    expect(noisy.violations).toEqual([]);
  });
});
