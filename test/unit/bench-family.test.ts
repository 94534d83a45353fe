/** The lock-family benchmark's pure parts: who runs which kind, and the multi-lock's names. */
import { describe, expect, it } from 'vitest';
import { namePicker } from '../../bench/mix.js';
import { familyRuns } from '../../bench/scenarios/lock-family.js';

describe('bench › lock family', () => {
  it('draws distinct names in range, the same sequence for the same seed', () => {
    const draw = namePicker(7, 4, 2);
    const again = namePicker(7, 4, 2);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const names = draw();
      expect(names).toEqual(again());
      expect(names).toHaveLength(2);
      expect(new Set(names).size).toBe(2);
      for (const name of names) expect(name >= 0 && name < 4).toBe(true);
      seen.add(names.join(','));
    }
    // Every ordered pair of 4 names shows up: sets overlap in every order.
    expect(seen.size).toBe(12);
    expect(namePicker(8, 4, 2)()).not.toEqual(namePicker(7, 4, 2)());
  });

  it('runs every kind on latchkey, only the multi-lock on peers that lock several keys, nothing on the others', () => {
    expect(
      familyRuns(['latchkey-ioredis', 'redlock5', 'redis-semaphore', 'raw', 'redlock-universal']),
    ).toEqual([
      { lib: 'latchkey-ioredis', lock: 'mutex' },
      { lib: 'latchkey-ioredis', lock: 'reentrant' },
      { lib: 'latchkey-ioredis', lock: 'election' },
      { lib: 'latchkey-ioredis', lock: 'multi' },
      { lib: 'redlock5', lock: 'multi' },
      { lib: 'redlock-universal', lock: 'multi' },
    ]);
  });
});
