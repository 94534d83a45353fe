/**
 * One timebase for every process on the machine: CLOCK_MONOTONIC (process.hrtime), in ms with
 * sub-ms resolution. Every process reads the same clock, and a step of the wall clock cannot move
 * it. (`performance.timeOrigin + performance.now()` pins each process to the wall clock read at its
 * start, and that reading can be off by several ms on a busy machine: a CI run saw one demo worker
 * about 12 ms ahead of another, and every hand-over between them was reported as an overlap.)
 */
export function sharedNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
