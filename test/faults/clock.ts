/**
 * One timebase for every process of a fault run: CLOCK_MONOTONIC (process.hrtime), in ms. Every
 * process on the machine reads the same clock, and a step of the wall clock cannot move it.
 * (`performance.timeOrigin + performance.now()` pins each process to the wall clock at its start:
 * a run on a busy VM saw one worker 3.5 ms ahead of the others, and the checker reported
 * hand-overs as overlaps.)
 */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms`; with a signal, resolves early (never rejects) when the signal aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
