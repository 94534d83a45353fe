/**
 * Retry schedules, read attempt by attempt, with `random` injected so jittered delays are exact.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LOCK_ERROR_CODES } from '../../src/errors.js';
import {
  exponentialBackoff,
  fixedDelay,
  isRetryStrategy,
  linearBackoff,
  maxAttempts,
  noRetry,
  type RetryStrategy,
} from '../../src/retry.js';

const ALMOST_ONE = 1 - 2 ** -52;
const never = (): number => {
  throw new Error('this strategy must not draw a random number');
};

/** Delays after attempts 1..count; stops early (and says so) when the strategy gives up. */
function schedule(
  strategy: RetryStrategy,
  count: number,
  random: () => number = never,
): (number | undefined)[] {
  const delays: (number | undefined)[] = [];
  for (let attempt = 1; attempt <= count; attempt++) {
    const delay = strategy.delayAfter(attempt, random);
    delays.push(delay);
    if (delay === undefined) break;
  }
  return delays;
}

/** How many attempts a caller makes in total before the strategy says stop (bounded by `limit`). */
function attemptsUntilStop(strategy: RetryStrategy, limit = 1000): number {
  for (let attempt = 1; attempt <= limit; attempt++) {
    if (strategy.delayAfter(attempt, () => 0) === undefined) return attempt;
  }
  return Number.POSITIVE_INFINITY;
}

/** A deterministic source in [0, 1): a small linear congruential generator. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function invalidArgument(call: () => unknown, argument: string): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidArgumentError);
  expect((thrown as InvalidArgumentError).code).toBe(LOCK_ERROR_CODES.invalidArgument);
  expect((thrown as InvalidArgumentError).argument).toBe(argument);
}

describe('noRetry', () => {
  it('tries once and never again', () => {
    const strategy = noRetry();
    expect(strategy.kind).toBe('none');
    expect(schedule(strategy, 5)).toEqual([undefined]);
    expect(attemptsUntilStop(strategy)).toBe(1);
  });
});

describe('fixedDelay', () => {
  it('waits the same time after every attempt, without end', () => {
    expect(schedule(fixedDelay(50), 6)).toEqual([50, 50, 50, 50, 50, 50]);
    expect(fixedDelay(50).delayAfter(100_000, never)).toBe(50);
    expect(attemptsUntilStop(fixedDelay(50))).toBe(Number.POSITIVE_INFINITY);
  });

  it('allows a zero delay', () => {
    expect(schedule(fixedDelay(0), 3)).toEqual([0, 0, 0]);
  });
});

describe('linearBackoff', () => {
  it('adds stepMs after every attempt', () => {
    const strategy = linearBackoff({ delayMs: 10, stepMs: 5 });
    expect(strategy.kind).toBe('linear');
    expect(schedule(strategy, 5)).toEqual([10, 15, 20, 25, 30]);
  });

  it('is fixed when stepMs is left out or 0', () => {
    expect(schedule(linearBackoff({ delayMs: 7 }), 4)).toEqual([7, 7, 7, 7]);
    expect(schedule(linearBackoff({ delayMs: 7, stepMs: 0 }), 4)).toEqual([7, 7, 7, 7]);
  });

  it('can start at 0', () => {
    expect(schedule(linearBackoff({ delayMs: 0, stepMs: 100 }), 4)).toEqual([0, 100, 200, 300]);
  });
});

describe('exponentialBackoff', () => {
  const strategy = exponentialBackoff({ baseMs: 10, maxMs: 1000 });
  /** min(maxMs, baseMs × 2^(n−1)) for n = 1..10. */
  const ceilings = [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000];

  it('waits 0 when random() returns 0', () => {
    expect(strategy.kind).toBe('exponential');
    expect(schedule(strategy, 10, () => 0)).toEqual(ceilings.map(() => 0));
  });

  it('waits the full ceiling when random() is just below 1', () => {
    expect(schedule(strategy, 10, () => ALMOST_ONE)).toEqual(ceilings);
  });

  it('waits about half the ceiling when random() returns 0.5', () => {
    expect(schedule(strategy, 10, () => 0.5)).toEqual(ceilings.map((c) => Math.floor((c + 1) / 2)));
  });

  it('stays in [0, min(maxMs, baseMs × factor^(n−1))] over many attempts', () => {
    const cases = [
      { baseMs: 1, maxMs: 30_000, factor: 2 },
      { baseMs: 25, maxMs: 5_000, factor: 3 },
      { baseMs: 100, maxMs: 100, factor: 2 },
      { baseMs: 7, maxMs: 1_000, factor: 1 },
      { baseMs: 5, maxMs: 2_000, factor: 1.5 },
    ];
    for (const settings of cases) {
      const jittered = exponentialBackoff(settings);
      const random = seededRandom(settings.baseMs);
      let highestShare = 0;
      const outOfRange: object[] = [];
      for (let attempt = 1; attempt <= 2_000; attempt++) {
        const ceiling = Math.min(
          settings.maxMs,
          settings.baseMs * settings.factor ** (attempt - 1),
        );
        const delay = jittered.delayAfter(attempt, random);
        // Collected rather than asserted one by one, so a failure names the first few bad attempts.
        if (
          delay === undefined ||
          !Number.isSafeInteger(delay) ||
          delay < 0 ||
          delay > ceiling ||
          delay > settings.maxMs
        ) {
          outOfRange.push({ ...settings, attempt, ceiling, delay });
        } else {
          highestShare = Math.max(highestShare, delay / ceiling);
        }
      }
      expect(outOfRange.slice(0, 5)).toEqual([]);
      const lastCeiling = Math.min(settings.maxMs, settings.baseMs * settings.factor ** 1999);
      expect(jittered.delayAfter(2_000, () => ALMOST_ONE)).toBe(Math.floor(lastCeiling));
      // Full jitter reaches the top of the range, not only its bottom half.
      expect(highestShare).toBeGreaterThan(0.9);
    }
  });

  it('spreads delays over the whole range instead of clustering', () => {
    const random = seededRandom(42);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) seen.add(strategy.delayAfter(4, random) as number);
    // Ceiling 80: 81 possible values; 2000 uniform draws miss one with probability < 1e-9.
    expect(seen.size).toBe(81);
  });

  it('stays capped where factor^(n−1) overflows to Infinity', () => {
    expect(strategy.delayAfter(5_000, () => ALMOST_ONE)).toBe(1000);
    expect(strategy.delayAfter(Number.MAX_SAFE_INTEGER, () => 0.5)).toBe(500);
  });

  it('never stops by itself', () => {
    expect(attemptsUntilStop(strategy)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('maxAttempts', () => {
  it.each([1, 2, 3, 10])('stops after %i attempts in total', (attempts) => {
    expect(attemptsUntilStop(maxAttempts(attempts, fixedDelay(10)))).toBe(attempts);
    expect(schedule(maxAttempts(attempts, fixedDelay(10)), 100)).toEqual([
      ...Array.from({ length: attempts - 1 }, () => 10),
      undefined,
    ]);
  });

  it('delays as its inner strategy says, passing random through', () => {
    const strategy = maxAttempts(4, linearBackoff({ delayMs: 10, stepMs: 10 }));
    expect(strategy.kind).toBe('linear×4');
    expect(schedule(strategy, 10)).toEqual([10, 20, 30, undefined]);
    const jittered = maxAttempts(3, exponentialBackoff({ baseMs: 10, maxMs: 100 }));
    expect(schedule(jittered, 10, () => ALMOST_ONE)).toEqual([10, 20, undefined]);
    expect(schedule(jittered, 10, () => 0)).toEqual([0, 0, undefined]);
  });

  it('composes: the smaller limit wins', () => {
    expect(attemptsUntilStop(maxAttempts(5, maxAttempts(3, fixedDelay(1))))).toBe(3);
    expect(attemptsUntilStop(maxAttempts(2, maxAttempts(4, fixedDelay(1))))).toBe(2);
    expect(maxAttempts(5, maxAttempts(3, fixedDelay(1))).kind).toBe('linear×3×5');
  });

  it('never retries past an inner noRetry', () => {
    expect(attemptsUntilStop(maxAttempts(3, noRetry()))).toBe(1);
  });
});

describe('strategies › values', () => {
  const made: readonly [string, RetryStrategy][] = [
    ['noRetry', noRetry()],
    ['fixedDelay', fixedDelay(1)],
    ['linearBackoff', linearBackoff({ delayMs: 1, stepMs: 1 })],
    ['exponentialBackoff', exponentialBackoff({ baseMs: 1, maxMs: 2 })],
    ['maxAttempts', maxAttempts(2, noRetry())],
  ];

  it.each(made)('%s makes a frozen, recognisable strategy', (_label, strategy) => {
    expect(isRetryStrategy(strategy)).toBe(true);
    expect(Object.isFrozen(strategy)).toBe(true);
    expect(typeof strategy.kind).toBe('string');
  });

  it.each([
    ['a look-alike object', { kind: 'linear', delayAfter: () => 10 }],
    ['null', null],
    ['a function', fixedDelay],
    ['a number', 10],
  ])('isRetryStrategy rejects %s', (_label, value) => {
    expect(isRetryStrategy(value)).toBe(false);
  });
});

describe('strategies › bad settings', () => {
  const cases: readonly [label: string, make: () => unknown, argument: string][] = [
    ['fixedDelay negative', () => fixedDelay(-1), 'retry.delayMs'],
    ['fixedDelay NaN', () => fixedDelay(Number.NaN), 'retry.delayMs'],
    ['fixedDelay float', () => fixedDelay(1.5), 'retry.delayMs'],
    ['fixedDelay Infinity', () => fixedDelay(Number.POSITIVE_INFINITY), 'retry.delayMs'],
    ['fixedDelay string', () => fixedDelay('10' as unknown as number), 'retry.delayMs'],
    ['linearBackoff without options', () => linearBackoff(undefined as never), 'retry.delayMs'],
    ['linearBackoff negative delayMs', () => linearBackoff({ delayMs: -5 }), 'retry.delayMs'],
    [
      'linearBackoff negative stepMs',
      () => linearBackoff({ delayMs: 5, stepMs: -1 }),
      'retry.stepMs',
    ],
    [
      'linearBackoff NaN stepMs',
      () => linearBackoff({ delayMs: 5, stepMs: Number.NaN }),
      'retry.stepMs',
    ],
    [
      'linearBackoff float stepMs',
      () => linearBackoff({ delayMs: 5, stepMs: 0.5 }),
      'retry.stepMs',
    ],
    [
      'exponentialBackoff baseMs 0',
      () => exponentialBackoff({ baseMs: 0, maxMs: 10 }),
      'retry.baseMs',
    ],
    [
      'exponentialBackoff negative baseMs',
      () => exponentialBackoff({ baseMs: -1, maxMs: 10 }),
      'retry.baseMs',
    ],
    [
      'exponentialBackoff NaN baseMs',
      () => exponentialBackoff({ baseMs: Number.NaN, maxMs: 10 }),
      'retry.baseMs',
    ],
    [
      'exponentialBackoff float maxMs',
      () => exponentialBackoff({ baseMs: 1, maxMs: 10.5 }),
      'retry.maxMs',
    ],
    [
      'exponentialBackoff maxMs 0',
      () => exponentialBackoff({ baseMs: 1, maxMs: 0 }),
      'retry.maxMs',
    ],
    [
      'exponentialBackoff maxMs < baseMs',
      () => exponentialBackoff({ baseMs: 100, maxMs: 99 }),
      'retry.maxMs',
    ],
    [
      'exponentialBackoff factor < 1',
      () => exponentialBackoff({ baseMs: 1, maxMs: 10, factor: 0.5 }),
      'retry.factor',
    ],
    [
      'exponentialBackoff factor 0',
      () => exponentialBackoff({ baseMs: 1, maxMs: 10, factor: 0 }),
      'retry.factor',
    ],
    [
      'exponentialBackoff factor NaN',
      () => exponentialBackoff({ baseMs: 1, maxMs: 10, factor: Number.NaN }),
      'retry.factor',
    ],
    [
      'exponentialBackoff factor Infinity',
      () => exponentialBackoff({ baseMs: 1, maxMs: 10, factor: Number.POSITIVE_INFINITY }),
      'retry.factor',
    ],
    [
      'exponentialBackoff without options',
      () => exponentialBackoff(undefined as never),
      'retry.baseMs',
    ],
    ['maxAttempts 0', () => maxAttempts(0, fixedDelay(1)), 'retry.attempts'],
    ['maxAttempts negative', () => maxAttempts(-1, fixedDelay(1)), 'retry.attempts'],
    ['maxAttempts float', () => maxAttempts(1.5, fixedDelay(1)), 'retry.attempts'],
    ['maxAttempts NaN', () => maxAttempts(Number.NaN, fixedDelay(1)), 'retry.attempts'],
    [
      'maxAttempts Infinity',
      () => maxAttempts(Number.POSITIVE_INFINITY, fixedDelay(1)),
      'retry.attempts',
    ],
    ['maxAttempts inner missing', () => maxAttempts(3, undefined as never), 'retry'],
    ['maxAttempts inner a factory', () => maxAttempts(3, fixedDelay as never), 'retry'],
    [
      'maxAttempts inner a look-alike',
      () => maxAttempts(3, { kind: 'x', delayAfter: () => 1 } as never),
      'retry',
    ],
  ];

  it.each(cases)('%s', (_label, make, argument) => {
    invalidArgument(make, argument);
  });
});
