/**
 * The observability API's types: the diagnostics payloads exported from `latchkey`, and the
 * `latchkey/opentelemetry` entry (options, and a stop function that is also Disposable).
 */
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AcquireEvent,
  CHANNELS,
  type ExtendEvent,
  type ExtendFailedEvent,
  type ExtendTrigger,
  type LockKind,
  type LockLossReason,
  type LostEvent,
  type ReleaseEvent,
  type ReleaseOutcome,
  type WaitContext,
  type WaitOutcome,
  type WarningEvent,
} from '../../src/index.js';
import {
  type InstrumentationOptions,
  instrumentLatchkey,
  type Uninstrument,
} from '../../src/opentelemetry/index.js';

describe('diagnostics payloads', () => {
  it('channel names are literal types', () => {
    expectTypeOf(CHANNELS.wait).toEqualTypeOf<'latchkey:lock:wait'>();
    expectTypeOf(CHANNELS.waitStart).toEqualTypeOf<'tracing:latchkey:lock:wait:start'>();
    expectTypeOf(CHANNELS.waitEnd).toEqualTypeOf<'tracing:latchkey:lock:wait:asyncEnd'>();
    expectTypeOf(CHANNELS.extendFailed).toEqualTypeOf<'latchkey:lock:extend-failed'>();
  });

  it('every hold event names the kind, lock, token and fencing token', () => {
    for (const event of [] as (AcquireEvent | ExtendEvent | ExtendFailedEvent | ReleaseEvent)[]) {
      expectTypeOf(event.kind).toEqualTypeOf<LockKind>();
      expectTypeOf(event.token).toEqualTypeOf<string>();
      expectTypeOf(event.fencingToken).toEqualTypeOf<number>();
    }
    expectTypeOf<LockKind>().toEqualTypeOf<
      'mutex' | 'reentrant' | 'semaphore' | 'read-write' | 'election'
    >();
  });

  it('outcomes, triggers and reasons are closed unions', () => {
    expectTypeOf<WaitOutcome>().toEqualTypeOf<
      'acquired' | 'timeout' | 'aborted' | 'closed' | 'error'
    >();
    expectTypeOf<ExtendTrigger>().toEqualTypeOf<'auto-refresh' | 'claim' | 'caller'>();
    expectTypeOf<ReleaseEvent['outcome']>().toEqualTypeOf<ReleaseOutcome | 'error'>();
    expectTypeOf<LostEvent['reason']>().toEqualTypeOf<LockLossReason>();
    expectTypeOf<WaitContext['outcome']>().toEqualTypeOf<WaitOutcome | undefined>();
    expectTypeOf<WarningEvent['message']>().toEqualTypeOf<string>();
  });
});

describe('latchkey/opentelemetry', () => {
  it('takes optional providers and returns a stop function that is Disposable', () => {
    expectTypeOf(instrumentLatchkey)
      .parameter(0)
      .toEqualTypeOf<InstrumentationOptions | undefined>();
    expectTypeOf<InstrumentationOptions['meterProvider']>().toEqualTypeOf<
      MeterProvider | undefined
    >();
    expectTypeOf<InstrumentationOptions['tracerProvider']>().toEqualTypeOf<
      TracerProvider | undefined
    >();
    expectTypeOf(instrumentLatchkey).returns.toEqualTypeOf<Uninstrument>();
    expectTypeOf<Uninstrument>().toMatchTypeOf<Disposable>();
    expectTypeOf<Uninstrument>().toBeCallableWith();
  });
});
