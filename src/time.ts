/**
 * Monotonic time and abortable waiting. Lock validity is always measured with {@link monotonicNow},
 * never with `Date.now()`, so wall-clock steps on the client cannot lengthen a lock.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MAX_DURATION_MS } from './options.js';

export function monotonicNow(): number {
  return performance.now();
}

/** Resolves after `ms` (capped to what a timer can hold), or rejects with `signal.reason`. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(
    Math.max(0, Math.min(ms, MAX_DURATION_MS)),
    undefined,
    signal ? { signal } : {},
  ).catch((error: unknown) => {
    throw signal?.aborted ? signal.reason : error;
  });
}

/** Thrown by {@link withTimeout} when the operation did not settle in time. */
export class OperationTimeout extends Error {
  override readonly name = 'OperationTimeout';
  constructor(readonly ms: number) {
    super(`no reply within ${ms} ms`);
  }
}

/**
 * Settles like `operation`, or rejects with {@link OperationTimeout} after `ms` (then calls
 * `onTimeout`, e.g. to abort what is left of it). The operation itself may go on; callers that
 * care about its late outcome must clean up after it.
 */
export function withTimeout<T>(
  operation: Promise<T>,
  ms: number,
  onTimeout?: (timeout: OperationTimeout) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const timeout = new OperationTimeout(ms);
      reject(timeout);
      onTimeout?.(timeout);
    }, ms);
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
