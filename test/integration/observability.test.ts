/**
 * `latchkey/opentelemetry` with the real OpenTelemetry SDK (metrics through an in-memory exporter,
 * spans through an in-memory span exporter) and a real redis-server: the values recorded for
 * acquisitions, waits, timeouts, losses and abandoned holds, and the spans' shape.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import { InvalidArgumentError, LOCK_ERROR_CODES, LockTimeoutError } from '../../src/errors.js';
import { Locker } from '../../src/locker.js';
import {
  ATTRIBUTES,
  instrumentLatchkey,
  LOST_EVENT,
  MAX_LOCK_GROUPS,
  METRICS,
  SPANS,
  type Uninstrument,
} from '../../src/opentelemetry/index.js';
import { connectIORedis } from '../helpers/adapters.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

/**
 * The SDK's context manager for Node lives in a package the tests do not install; this is the same
 * idea in a few lines, so that spans can have the caller's span as parent.
 */
class AsyncLocalStorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

/** Resolves once `check` passes, polling every 10 ms; rejects after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One SDK set-up: a meter provider read on demand, a tracer provider, and the integration. */
class Telemetry {
  readonly metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  readonly reader = new PeriodicExportingMetricReader({
    exporter: this.metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly spanExporter = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.spanExporter)],
  });
  readonly uninstrument: Uninstrument;

  constructor(options: Parameters<typeof instrumentLatchkey>[0] = {}) {
    this.uninstrument = instrumentLatchkey({
      meterProvider: this.meterProvider,
      tracerProvider: this.tracerProvider,
      ...options,
    });
  }

  /** The metrics as collected now (cumulative). */
  async metrics(): Promise<MetricData[]> {
    this.metricExporter.reset();
    await this.reader.forceFlush();
    return this.metricExporter
      .getMetrics()
      .flatMap((resource) =>
        resource.scopeMetrics
          .filter((scope) => scope.scope.name === 'latchkey')
          .flatMap((scope) => scope.metrics),
      );
  }

  /**
   * The value of a sum (counter, UpDownCounter) or the count of a histogram, over the data points
   * whose attributes include `attributes`; 0 if none.
   */
  async value(name: string, attributes: Record<string, unknown> = {}): Promise<number> {
    const metric = (await this.metrics()).find((data) => data.descriptor.name === name);
    if (!metric) return 0;
    let total = 0;
    for (const point of metric.dataPoints) {
      const matches = Object.entries(attributes).every(
        ([key, value]) => point.attributes[key] === value,
      );
      if (!matches) continue;
      total +=
        metric.dataPointType === DataPointType.HISTOGRAM
          ? (point.value as { count: number }).count
          : (point.value as number);
    }
    return total;
  }

  spans(name?: string): ReadableSpan[] {
    return this.spanExporter
      .getFinishedSpans()
      .filter((span) => name === undefined || span.name === name);
  }

  /** The finished spans for lock `lockName`. */
  spansOf(lockName: string, name?: string): ReadableSpan[] {
    return this.spans(name).filter((span) => span.attributes[ATTRIBUTES.name] === lockName);
  }

  async shutdown(): Promise<void> {
    this.uninstrument();
    await this.meterProvider.shutdown();
    await this.tracerProvider.shutdown();
  }
}

const kind = (value: string) => ({ [ATTRIBUTES.kind]: value });

let server: RedisServer;
let locker: Locker;
let closeClient: () => Promise<void>;
let names = 0;
const fresh = () => `otel-${++names}`;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  context.setGlobalContextManager(contextManager);
  server = await startRedis();
  const connected = await connectIORedis(server.url);
  locker = new Locker(connected.adapter);
  closeClient = connected.close;
});
afterAll(async () => {
  await locker?.close();
  await closeClient?.();
  await server?.stop();
  context.disable();
});

describe('opentelemetry', () => {
  let telemetry: Telemetry;
  beforeEach(() => {
    telemetry = new Telemetry();
  });
  afterEach(async () => {
    await telemetry.shutdown();
  });

  it('opentelemetry › acquire and release › records one wait and one hold, as metrics in seconds and as sibling spans under the caller', async () => {
    const name = fresh();
    const tracer = telemetry.tracerProvider.getTracer('test');
    const parent = tracer.startSpan('caller');
    const lock = await context.with(trace.setSpan(context.active(), parent), async () => {
      const held = await locker.acquire(name);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await held.release();
      return held;
    });
    parent.end();

    const metrics = await telemetry.metrics();
    const byName = new Map(metrics.map((metric) => [metric.descriptor.name, metric]));
    expect(byName.get(METRICS.waitDuration)?.descriptor.unit).toBe('s');
    expect(byName.get(METRICS.holdDuration)?.descriptor.unit).toBe('s');
    expect(await telemetry.value(METRICS.acquisitions, kind('mutex'))).toBe(1);
    expect(
      await telemetry.value(METRICS.waitDuration, {
        ...kind('mutex'),
        [ATTRIBUTES.waitOutcome]: 'acquired',
      }),
    ).toBe(1);
    expect(await telemetry.value(METRICS.holdDuration, kind('mutex'))).toBe(1);
    expect(await telemetry.value(METRICS.holders)).toBe(0);
    expect(await telemetry.value(METRICS.waiters)).toBe(0);
    // The hold took at least the 20 ms slept, recorded in seconds.
    const hold = byName.get(METRICS.holdDuration)?.dataPoints[0]?.value as { sum: number };
    expect(hold.sum).toBeGreaterThanOrEqual(0.015);
    expect(hold.sum).toBeLessThan(10);
    // Metrics never carry the lock's name.
    for (const metric of metrics) {
      for (const point of metric.dataPoints)
        expect(point.attributes).not.toHaveProperty(ATTRIBUTES.name);
    }

    const [acquire] = telemetry.spansOf(name, SPANS.acquire);
    const [held] = telemetry.spansOf(name, SPANS.hold);
    expect(acquire).toBeDefined();
    expect(held).toBeDefined();
    if (!acquire || !held) return;
    const parentId = parent.spanContext().spanId;
    expect(acquire.parentSpanContext?.spanId).toBe(parentId);
    expect(held.parentSpanContext?.spanId).toBe(parentId);
    expect(held.links.map((link) => link.context.spanId)).toEqual([acquire.spanContext().spanId]);
    expect(acquire.attributes).toMatchObject({
      [ATTRIBUTES.kind]: 'mutex',
      [ATTRIBUTES.name]: name,
      [ATTRIBUTES.waitOutcome]: 'acquired',
      [ATTRIBUTES.fencingToken]: lock.fencingToken,
    });
    expect(held.attributes).toMatchObject({
      [ATTRIBUTES.kind]: 'mutex',
      [ATTRIBUTES.fencingToken]: lock.fencingToken,
      [ATTRIBUTES.releaseOutcome]: 'released',
    });
    expect(acquire.status.code).toBe(SpanStatusCode.UNSET);
    expect(held.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('opentelemetry › contention › counts holders and waiters while they hold and wait, and a timeout as a failed acquire span', async () => {
    const name = fresh();
    const holder = await locker.acquire(name);
    const waiter = locker.acquire(name, { waitMs: 10_000 });
    await eventually(async () => (await telemetry.value(METRICS.waiters)) === 1);
    await expect(locker.acquire(name, { waitMs: 100 })).rejects.toThrow(LockTimeoutError);
    expect(await locker.tryAcquire(name)).toBeNull();

    expect(await telemetry.value(METRICS.holders, kind('mutex'))).toBe(1);
    expect(await telemetry.value(METRICS.waiters, kind('mutex'))).toBe(1);
    // The 100 ms wait and the try both ran out.
    expect(await telemetry.value(METRICS.timeouts, kind('mutex'))).toBe(2);
    expect(
      await telemetry.value(METRICS.waitDuration, { [ATTRIBUTES.waitOutcome]: 'timeout' }),
    ).toBe(2);
    const failed = telemetry
      .spansOf(name, SPANS.acquire)
      .filter((span) => span.attributes[ATTRIBUTES.waitOutcome] === 'timeout');
    expect(failed.map((span) => span.status.code).sort()).toEqual([
      SpanStatusCode.UNSET, // the try: an answer, not a failure
      SpanStatusCode.ERROR,
    ]);
    const timedOut = failed.find((span) => span.status.code === SpanStatusCode.ERROR);
    expect(timedOut?.attributes[ATTRIBUTES.errorType]).toBe(LOCK_ERROR_CODES.timeout);

    await holder.release();
    await (await waiter).release();
    expect(await telemetry.value(METRICS.acquisitions)).toBe(2);
    expect(await telemetry.value(METRICS.holders)).toBe(0);
    expect(await telemetry.value(METRICS.waiters)).toBe(0);
    expect(telemetry.spansOf(name, SPANS.hold)).toHaveLength(2);
  });

  it('opentelemetry › loss › a deleted key counts as a loss and ends the hold span with an error and a lost event, once', async () => {
    const name = fresh();
    const lock = await locker.acquire(name, { ttlMs: 1_000 });
    const lost = new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
    await server.command('DEL', mutexKeys('latchkey:', name).lock);
    await lost;

    expect(
      await telemetry.value(METRICS.losses, {
        ...kind('mutex'),
        [ATTRIBUTES.lossReason]: 'expired',
      }),
    ).toBe(1);
    expect(await telemetry.value(METRICS.holders)).toBe(0);
    const [held] = telemetry.spansOf(name, SPANS.hold);
    expect(held?.status.code).toBe(SpanStatusCode.ERROR);
    expect(held?.attributes[ATTRIBUTES.lossReason]).toBe('expired');
    expect(held?.events.map((event) => [event.name, event.attributes])).toEqual([
      [LOST_EVENT, { [ATTRIBUTES.lossReason]: 'expired' }],
    ]);

    // The release afterwards finds the key gone; the hold was counted and ended at its loss.
    expect((await lock.release()).outcome).toBe('expired');
    expect(await telemetry.value(METRICS.holdDuration)).toBe(1);
    expect(await telemetry.value(METRICS.holders)).toBe(0);
    expect(telemetry.spansOf(name, SPANS.hold)).toHaveLength(1);
  });

  it('opentelemetry › abandoned holds › locks never released end at their expiry or at the locker’s close, and a waiter at the close: nothing stays counted', async () => {
    const connected = await connectIORedis(server.url);
    const abandoning = new Locker(connected.adapter);
    try {
      const name = fresh();
      // Never released, not refreshed: lost when its validity runs out.
      await abandoning.acquire(`${name}-expires`, { ttlMs: 200, autoRefresh: false });
      // Never released, refreshed: held until the close.
      await abandoning.acquire(name);
      await abandoning.semaphore(`${name}-sem`, { limit: 1 }).acquire();
      const waiting = abandoning.acquire(name).catch((error: unknown) => error);
      await eventually(async () => (await telemetry.value(METRICS.waiters)) === 1);
      await eventually(
        async () =>
          (await telemetry.value(METRICS.losses, { [ATTRIBUTES.lossReason]: 'expired' })) === 1,
      );
      expect(await telemetry.value(METRICS.holders)).toBe(2);

      await abandoning.close();
      await waiting;
      expect(await telemetry.value(METRICS.holders)).toBe(0);
      expect(await telemetry.value(METRICS.waiters)).toBe(0);
      expect(await telemetry.value(METRICS.losses, { [ATTRIBUTES.lossReason]: 'closed' })).toBe(2);
      expect(
        await telemetry.value(METRICS.waitDuration, { [ATTRIBUTES.waitOutcome]: 'closed' }),
      ).toBe(1);
      expect(await telemetry.value(METRICS.holdDuration)).toBe(3);
      const holds = [
        ...telemetry.spansOf(name, SPANS.hold),
        ...telemetry.spansOf(`${name}-sem`, SPANS.hold),
        ...telemetry.spansOf(`${name}-expires`, SPANS.hold),
      ];
      expect(holds.map((span) => span.attributes[ATTRIBUTES.lossReason]).sort()).toEqual([
        'closed',
        'closed',
        'expired',
      ]);
      // A close is the caller's own decision: the wait it ended is no failed acquire.
      const closedWait = telemetry
        .spansOf(name, SPANS.acquire)
        .find((span) => span.attributes[ATTRIBUTES.waitOutcome] === 'closed');
      expect(closedWait?.status.code).toBe(SpanStatusCode.UNSET);
    } finally {
      await abandoning.close();
      await connected.close();
    }
  });

  it('opentelemetry › failed release › a release Redis never answered ends the hold with an error, and the holders drop to 0', async () => {
    const connected = await connectIORedis(server.url);
    const stalling = new Locker(connected.adapter, { commandTimeoutMs: 300 });
    try {
      const name = fresh();
      const lock = await stalling.acquire(name, { autoRefresh: false });
      expect(await telemetry.value(METRICS.holders)).toBe(1);
      await server.command('CLIENT', 'PAUSE', 800, 'ALL');
      await expect(lock.release()).rejects.toMatchObject({ code: LOCK_ERROR_CODES.backend });
      expect(await telemetry.value(METRICS.holders)).toBe(0);
      expect(await telemetry.value(METRICS.holdDuration)).toBe(1);
      const [held] = telemetry.spansOf(name, SPANS.hold);
      expect(held?.status.code).toBe(SpanStatusCode.ERROR);
      expect(held?.attributes).toMatchObject({
        [ATTRIBUTES.releaseOutcome]: 'error',
        [ATTRIBUTES.errorType]: LOCK_ERROR_CODES.backend,
      });
      expect(held?.events.map((event) => event.name)).toEqual(['exception']);
      await new Promise((resolve) => setTimeout(resolve, 800)); // let the pause end
    } finally {
      await stalling.close();
      await connected.close();
    }
  });

  it('opentelemetry › kinds › labels each kind’s acquisitions and holds by kind', async () => {
    const base = fresh();
    await (await locker.semaphore(`${base}-sem`, { limit: 3 }).acquire({ permits: 2 })).release();
    const rw = locker.readWrite(`${base}-rw`);
    await (await rw.acquireRead()).release();
    await (await rw.acquireWrite()).release();
    await (await locker.election(`${base}-el`).campaign('me')).resign();
    await locker.reentrant(`${base}-re`).withLock(async () => {});
    await (await locker.multi([`${base}-a`, `${base}-b`]).acquire()).release();

    for (const [label, count] of [
      ['semaphore', 1],
      ['read-write', 2],
      ['election', 1],
      ['reentrant', 1],
      ['mutex', 2],
    ] as const) {
      expect(await telemetry.value(METRICS.acquisitions, kind(label)), label).toBe(count);
      expect(await telemetry.value(METRICS.holdDuration, kind(label)), label).toBe(count);
    }
    expect(await telemetry.value(METRICS.holders)).toBe(0);
    expect(telemetry.spans(SPANS.hold)).toHaveLength(7);
  });
});

describe('opentelemetry › options', () => {
  it('opentelemetry › lockGroup › labels metrics and spans with the group, at most MAX_LOCK_GROUPS of them, "_OTHER" beyond and when the mapping throws', async () => {
    const telemetry = new Telemetry({
      lockGroup: (name) => {
        if (name.endsWith('-throws')) throw new Error('no group for this one');
        return name.split(':')[0];
      },
    });
    try {
      const base = fresh();
      for (let i = 0; i < MAX_LOCK_GROUPS + 5; i++) {
        await (await locker.acquire(`${base}-${i}:x`)).release();
      }
      await (await locker.acquire(`${base}-throws`)).release();

      const groups = new Set(
        (await telemetry.metrics())
          .find((metric) => metric.descriptor.name === METRICS.acquisitions)
          ?.dataPoints.map((point) => point.attributes[ATTRIBUTES.group]),
      );
      expect(groups.size).toBe(MAX_LOCK_GROUPS + 1);
      expect(groups.has(`${base}-0`)).toBe(true);
      expect(await telemetry.value(METRICS.acquisitions, { [ATTRIBUTES.group]: '_OTHER' })).toBe(6);
      const [span] = telemetry.spansOf(`${base}-0:x`, SPANS.hold);
      expect(span?.attributes[ATTRIBUTES.group]).toBe(`${base}-0`);
    } finally {
      await telemetry.shutdown();
    }
  });

  it('opentelemetry › lockNameOnSpans › false keeps lock names off the spans', async () => {
    const telemetry = new Telemetry({ lockNameOnSpans: false });
    try {
      await (await locker.acquire(fresh())).release();
      expect(telemetry.spans()).toHaveLength(2);
      for (const span of telemetry.spans()) {
        expect(span.attributes).not.toHaveProperty(ATTRIBUTES.name);
      }
    } finally {
      await telemetry.shutdown();
    }
  });

  it('opentelemetry › stop › stops recording, ends open holds so the holders drop to 0, and is what Symbol.dispose does', async () => {
    const telemetry = new Telemetry();
    try {
      const name = fresh();
      const open = await locker.acquire(name);
      expect(await telemetry.value(METRICS.holders)).toBe(1);
      telemetry.uninstrument[Symbol.dispose]();
      telemetry.uninstrument(); // again: nothing happens
      expect(await telemetry.value(METRICS.holders)).toBe(0);
      expect(telemetry.spansOf(name, SPANS.hold)).toHaveLength(1);
      await open.release();
      await (await locker.acquire(name)).release();
      expect(await telemetry.value(METRICS.acquisitions)).toBe(1);
      expect(telemetry.spans(SPANS.acquire)).toHaveLength(1);
    } finally {
      await telemetry.shutdown();
    }
  });

  it('opentelemetry › options › bad options are refused with InvalidArgumentError naming the option', () => {
    for (const [options, option] of [
      [{ lockGroup: 'orders' }, 'lockGroup'],
      [{ lockNameOnSpans: 'yes' }, 'lockNameOnSpans'],
      [{ meterProvider: {} }, 'meterProvider'],
      [{ tracerProvider: {} }, 'tracerProvider'],
      [null, 'options'],
    ] as const) {
      const call = () => instrumentLatchkey(options as never);
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(option);
    }
  });
});
