/**
 * One timebase for every process of a fault run: `performance.timeOrigin + performance.now()`.
 * Within a process it is monotonic (it never steps back); across processes on one machine it agrees
 * to well under a millisecond, because each origin is taken from the same system clock at start.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
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
