/**
 * A small seeded PRNG (mulberry32), so a randomized run can be replayed from its logged seed.
 * Returns numbers in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A fresh 32-bit seed, for runs that were not given one. */
export function newSeed(): number {
  return Math.floor(Math.random() * 4_294_967_296) >>> 0;
}
