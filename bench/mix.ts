/**
 * The read/write mix of the read-write scenarios: a seeded sequence of operations, so a worker
 * (or one of its waiters) draws the same reads and writes in the same order whichever library it
 * drives, and a run can be repeated. Also the weight the read-write checker gives a writer.
 */

export type Operation = 'read' | 'write';

/**
 * What a writer adds to the checker's counter (a reader adds 1): far above any number of readers,
 * so a value of WRITER_WEIGHT + r means a writer and r readers, 2 × WRITER_WEIGHT two writers.
 */
export const WRITER_WEIGHT = 1_000_000;

/** Draws read with probability `readPercent` / 100, from a PRNG seeded with `seed`. */
export function operationMix(seed: number, readPercent: number): () => Operation {
  const next = mulberry32(seed);
  return () => (next() * 100 < readPercent ? 'read' : 'write');
}

/**
 * The multi-lock's names of the lock-family scenario: each call draws `pick` distinct indexes of
 * `names`, in random order (the lock itself sorts them), from a PRNG seeded with `seed`.
 */
export function namePicker(seed: number, names: number, pick: number): () => number[] {
  const next = mulberry32(seed);
  return () => {
    const pool = Array.from({ length: names }, (_, i) => i);
    const picked: number[] = [];
    while (picked.length < Math.min(pick, names)) {
      picked.push(...pool.splice(Math.floor(next() * pool.length), 1));
    }
    return picked;
  };
}

/** mulberry32: a small 32-bit PRNG, good enough to mix operations; uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
