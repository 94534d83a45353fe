/** The reentrant-cost benchmark's pure parts: merging rounds into rows, and its target. */
import { describe, expect, it } from 'vitest';
import { type ReentrantRound, reentrantCosts } from '../../bench/scenarios/reentrant.js';
import { checkTargets } from '../../bench/targets.js';

const round = (
  op: ReentrantRound['op'],
  pairUs: number[],
  calls: Record<string, number>,
  cpuSeconds = 0,
  lib: ReentrantRound['lib'] = 'latchkey-ioredis',
): ReentrantRound => ({ lib, op, pairUs, calls: new Map(Object.entries(calls)), cpuSeconds });

const noFigures = {
  uncontended: {},
  contended: [],
  manyKeys: {},
  manyWaiters: [],
  semaphore: [],
  readWrite: [],
  readWriteWaiters: [],
  family: [],
};

describe('bench › reentrant cost', () => {
  it('merges the rounds of each way, per pair, in a fixed order of ways', () => {
    const rows = reentrantCosts([
      round('nested', [4, 6], {}),
      round('mutex', [100, 300], { evalsha: 4, set: 2 }, 0.0002),
      round('owner', [200], { evalsha: 2, zrange: 7 }),
      round('mutex', [200, 200], { evalsha: 4, del: 2 }, 0.0002),
    ]);
    expect(rows.map((r) => r.op)).toEqual(['mutex', 'owner', 'nested']);
    const [mutex, owner, nested] = rows;
    expect(mutex).toMatchObject({
      pairs: 4,
      p50Us: 200,
      p99Us: 300,
      commands: 12,
      commandsPerPair: 3,
      scriptsPerPair: 2,
      redisCpuUsPerPair: 100,
      byCommand: { evalsha: 8, set: 2, del: 2 },
    });
    expect(mutex?.vsMutexP50).toBe(1);
    expect(owner).toMatchObject({ pairs: 1, commandsPerPair: 9, scriptsPerPair: 2, vsMutexP50: 1 });
    expect(nested).toMatchObject({ pairs: 2, commands: 0, commandsPerPair: 0, vsMutexP50: 0.02 });
  });

  it('keeps adapters apart, and has no ratio without a mutex row', () => {
    const rows = reentrantCosts([
      round('owner', [50], { eval: 1, evalsha: 1 }, 0, 'latchkey-node-redis'),
      round('mutex', [10], { evalsha: 2 }),
    ]);
    expect(rows.map((r) => [r.lib, r.op])).toEqual([
      ['latchkey-node-redis', 'owner'],
      ['latchkey-ioredis', 'mutex'],
    ]);
    expect(rows[0]?.scriptsPerPair).toBe(2);
    expect(rows[0]?.vsMutexP50).toBeNaN();
  });

  it('passes the nested target only with pairs and no command, and leaves other runs out', () => {
    const target = (rounds: ReentrantRound[]) =>
      checkTargets(['latchkey-ioredis', 'redlock5'], {
        ...noFigures,
        reentrant: reentrantCosts(rounds),
      }).filter((t) => t.target.startsWith('reentrant'));
    expect(target([round('nested', [5, 5], {})])).toMatchObject([
      { lib: 'latchkey-ioredis', pass: true },
    ]);
    expect(target([round('nested', [5, 5], { evalsha: 1 })])[0]?.pass).toBe(false);
    expect(target([round('nested', [], {})])[0]?.pass).toBe(false);
    expect(target([round('mutex', [5], { evalsha: 2 })])[0]?.pass).toBeUndefined();
    expect(target([])).toEqual([]);
  });
});
