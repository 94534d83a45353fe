/** The metric instruments of the integration, made once per meter. */
import type { Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import { METRICS } from './names.js';

/**
 * Bucket bounds in seconds, from a fast local acquisition to a five-minute hold. The SDK's default
 * bounds (0 to 10 000) were made for milliseconds and would put every lock in the first buckets.
 */
const DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

export interface Instruments {
  readonly waitDuration: Histogram;
  readonly holdDuration: Histogram;
  readonly acquisitions: Counter;
  readonly timeouts: Counter;
  readonly losses: Counter;
  readonly holders: UpDownCounter;
  readonly waiters: UpDownCounter;
}

export function createInstruments(meter: Meter): Instruments {
  const advice = { explicitBucketBoundaries: DURATION_BUCKETS_S };
  return {
    waitDuration: meter.createHistogram(METRICS.waitDuration, {
      description: 'How long callers waited for a lock, whatever the outcome.',
      unit: 's',
      advice,
    }),
    holdDuration: meter.createHistogram(METRICS.holdDuration, {
      description: 'How long locks were held, from acquisition to release or loss.',
      unit: 's',
      advice,
    }),
    acquisitions: meter.createCounter(METRICS.acquisitions, {
      description: 'Locks acquired.',
      unit: '{acquisition}',
    }),
    timeouts: meter.createCounter(METRICS.timeouts, {
      description: 'Waits for a lock that ran out before it was acquired.',
      unit: '{timeout}',
    }),
    losses: meter.createCounter(METRICS.losses, {
      description: 'Held locks known lost before their release.',
      unit: '{loss}',
    }),
    holders: meter.createUpDownCounter(METRICS.holders, {
      description: 'Locks this process holds now.',
      unit: '{holder}',
    }),
    waiters: meter.createUpDownCounter(METRICS.waiters, {
      description: 'Callers in this process waiting for a lock now.',
      unit: '{waiter}',
    }),
  };
}
