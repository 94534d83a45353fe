/** The fault run's timebase: the same clock every process of the run reads. */
export { sharedNow as now } from '../../src/testing/clock.js';

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
