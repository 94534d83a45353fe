/**
 * Turns latchkey's diagnostics events into OpenTelemetry metrics and spans. It only subscribes to
 * the channels, so the core never loads `@opentelemetry/api`, and one integration sees every
 * locker in the process (also those of another copy of latchkey: channels are global by name).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  type Attributes,
  type Context,
  context,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { LockKind } from '../core/backend.js';
import { CHANNELS, type LostEvent, type ReleaseEvent, type WaitContext } from '../diagnostics.js';
import { InvalidArgumentError } from '../errors.js';
import { createInstruments } from './instruments.js';
import { ATTRIBUTES, LOST_EVENT, MAX_LOCK_GROUPS, SPANS } from './names.js';

/** The instrumentation scope's name, as meters and tracers are asked for it. */
const SCOPE = 'latchkey';
const OTHER_GROUP = '_OTHER';

/** Options of {@link instrumentLatchkey}: where the data goes, and what lock names become. */
export interface InstrumentationOptions {
  /**
   * Where the metrics go.
   * @default the global meter provider (`metrics.getMeterProvider()`) at the time of the call
   */
  readonly meterProvider?: MeterProvider;
  /**
   * Where the spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`)
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * Maps a lock's name to a group, recorded as `latchkey.lock.group` on metrics and spans, or to
   * `undefined` for none. Lock names are unbounded, so metrics never carry them; a group is how to
   * tell locks apart there (`(name) => name.split(':')[0]` for `orders:42`-style names). At most
   * {@link MAX_LOCK_GROUPS} distinct groups are recorded, further ones as `'_OTHER'`, as is a
   * group the function throws for.
   * @default no group
   */
  readonly lockGroup?: (name: string, kind: LockKind) => string | undefined;
  /**
   * Whether spans carry the lock's name (`latchkey.lock.name`). Turn it off when names hold data
   * that must not reach the tracing backend.
   * @default true
   */
  readonly lockNameOnSpans?: boolean;
}

/** Stops the integration: call it, or dispose it (`using`). Idempotent. */
export type Uninstrument = (() => void) & Disposable;

/** A wait seen starting: what its end needs. */
interface Wait {
  readonly startedAt: number;
  readonly labels: Attributes;
  readonly spanAttributes: Attributes;
  readonly span: Span;
  /** The caller's context at the start: the hold span gets the same parent as the acquire span. */
  readonly parent: Context;
}

/** A hold seen starting: what its end needs. */
interface Hold {
  readonly startedAt: number;
  readonly labels: Attributes;
  readonly span: Span;
}

/**
 * Records every lock's waits and holds from now on, until the returned function is called. Call
 * it after the SDK set up its providers (or pass them): a meter taken from the global provider
 * before the SDK registered one records nothing.
 *
 * Metrics (see METRICS): wait and hold durations in seconds, acquisitions, timeouts, losses by
 * reason, and the holders and waiters of this process now, labelled by kind (and group). Spans
 * (see SPANS): `latchkey.acquire` around each wait, child of the caller's active context, and
 * `latchkey.hold` from acquisition to release or loss, its sibling, linked to it.
 *
 * Every wait and hold it tracks ends with an event the core always publishes (a locker's close
 * reports held locks lost), so its bookkeeping lives no longer than the locks.
 *
 * @example
 * const uninstrument = instrumentLatchkey({ lockGroup: (name) => name.split(':')[0] });
 * // … on shutdown:
 * uninstrument();
 */
export function instrumentLatchkey(options: InstrumentationOptions = {}): Uninstrument {
  const resolved = checkOptions(options);
  const instruments = createInstruments(
    (resolved.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE),
  );
  const tracer = (resolved.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const groupOf = resolved.lockGroup ? boundedGroups(resolved.lockGroup) : undefined;
  const nameOnSpans = resolved.lockNameOnSpans ?? true;
  // Strong maps, not weak ones: stop() ends what is open. Each entry goes when its wait or hold
  // ends, which the core always reports (see above).
  const waits = new Map<WaitContext, Wait>();
  const holds = new Map<string, Hold>();

  const labelsOf = (kind: LockKind, name: string): Attributes => {
    const group = groupOf?.(name, kind);
    return group === undefined
      ? { [ATTRIBUTES.kind]: kind }
      : { [ATTRIBUTES.kind]: kind, [ATTRIBUTES.group]: group };
  };

  const onWaitStart = (message: unknown) => {
    const wait = message as WaitContext;
    const labels = labelsOf(wait.kind, wait.name);
    const spanAttributes = nameOnSpans ? { ...labels, [ATTRIBUTES.name]: wait.name } : labels;
    const parent = context.active();
    const span = tracer.startSpan(
      SPANS.acquire,
      { kind: SpanKind.INTERNAL, attributes: spanAttributes },
      parent,
    );
    instruments.waiters.add(1, labels);
    waits.set(wait, { startedAt: performance.now(), labels, spanAttributes, span, parent });
  };

  const onWaitEnd = (message: unknown) => {
    const ended = message as WaitContext;
    const wait = waits.get(ended);
    if (!wait) return; // started before the integration did
    waits.delete(ended);
    const now = performance.now();
    const { labels, span } = wait;
    const outcome = ended.outcome ?? 'error';
    instruments.waiters.add(-1, labels);
    instruments.waitDuration.record(seconds(now - wait.startedAt), {
      ...labels,
      [ATTRIBUTES.waitOutcome]: outcome,
    });
    span.setAttribute(ATTRIBUTES.waitOutcome, outcome);
    if (outcome === 'acquired' && ended.token !== undefined && ended.fencingToken !== undefined) {
      instruments.acquisitions.add(1, labels);
      span.setAttribute(ATTRIBUTES.fencingToken, ended.fencingToken);
      span.end();
      const hold = tracer.startSpan(
        SPANS.hold,
        {
          kind: SpanKind.INTERNAL,
          attributes: { ...wait.spanAttributes, [ATTRIBUTES.fencingToken]: ended.fencingToken },
          links: [{ context: span.spanContext() }],
        },
        wait.parent,
      );
      instruments.holders.add(1, labels);
      holds.set(ended.token, { startedAt: now, labels, span: hold });
      return;
    }
    if (outcome === 'timeout') instruments.timeouts.add(1, labels);
    // An abort or a close is the caller's own decision, and a try (waitMs 0) that finds the lock
    // held got its answer: neither is a failure of the acquire.
    if (outcome === 'error' || (outcome === 'timeout' && ended.waitMs > 0)) {
      markFailed(span, ended.error, outcome === 'error');
    }
    span.end();
  };

  /** Ends the bookkeeping of the hold of `token`, if it is tracked, and records its duration. */
  const endHold = (token: string): Hold | undefined => {
    const hold = holds.get(token);
    if (!hold) return undefined;
    holds.delete(token);
    instruments.holders.add(-1, hold.labels);
    instruments.holdDuration.record(seconds(performance.now() - hold.startedAt), hold.labels);
    return hold;
  };

  const onLost = (message: unknown) => {
    const lost = message as LostEvent;
    instruments.losses.add(1, {
      ...labelsOf(lost.kind, lost.name),
      [ATTRIBUTES.lossReason]: lost.reason,
    });
    const hold = endHold(lost.token);
    if (!hold) return;
    hold.span.addEvent(LOST_EVENT, { [ATTRIBUTES.lossReason]: lost.reason });
    hold.span.setAttribute(ATTRIBUTES.lossReason, lost.reason);
    hold.span.setStatus({ code: SpanStatusCode.ERROR, message: `lock lost (${lost.reason})` });
    hold.span.end();
  };

  const onRelease = (message: unknown) => {
    const released = message as ReleaseEvent;
    // Untracked: the hold ended at its loss already, or began before the integration did.
    const hold = endHold(released.token);
    if (!hold) return;
    hold.span.setAttribute(ATTRIBUTES.releaseOutcome, released.outcome);
    if (released.outcome === 'error') markFailed(hold.span, released.error, true);
    else if (released.outcome !== 'released') {
      // The release found the lock gone: the hold ended before it, unnoticed until then.
      hold.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: `lock ${released.outcome} before its release`,
      });
    }
    hold.span.end();
  };

  // The wait TracingChannel's start and asyncEnd, by name: the two events the integration needs.
  diagnosticsChannel.subscribe(CHANNELS.waitStart, onWaitStart);
  diagnosticsChannel.subscribe(CHANNELS.waitEnd, onWaitEnd);
  diagnosticsChannel.subscribe(CHANNELS.lost, onLost);
  diagnosticsChannel.subscribe(CHANNELS.release, onRelease);

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    diagnosticsChannel.unsubscribe(CHANNELS.waitStart, onWaitStart);
    diagnosticsChannel.unsubscribe(CHANNELS.waitEnd, onWaitEnd);
    diagnosticsChannel.unsubscribe(CHANNELS.lost, onLost);
    diagnosticsChannel.unsubscribe(CHANNELS.release, onRelease);
    // What is still open would never be told to end: end it now, so its spans are exported and
    // the gauges drop to what they count, nothing.
    for (const wait of waits.values()) {
      instruments.waiters.add(-1, wait.labels);
      wait.span.end();
    }
    waits.clear();
    for (const hold of holds.values()) {
      instruments.holders.add(-1, hold.labels);
      hold.span.end();
    }
    holds.clear();
  };
  return Object.assign(stop, { [Symbol.dispose]: stop });
}

function seconds(ms: number): number {
  return ms / 1_000;
}

function markFailed(span: Span, error: unknown, recordException: boolean): void {
  const code = (error as { code?: unknown } | undefined)?.code;
  span.setAttribute(ATTRIBUTES.errorType, typeof code === 'string' ? code : OTHER_GROUP);
  if (recordException && error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * The user's mapping, made safe to call from a channel subscriber (where a throw would surface as
 * an uncaught exception) and capped at MAX_LOCK_GROUPS distinct groups.
 */
function boundedGroups(
  lockGroup: (name: string, kind: LockKind) => string | undefined,
): (name: string, kind: LockKind) => string | undefined {
  const seen = new Set<string>();
  return (name, kind) => {
    let group: unknown;
    try {
      group = lockGroup(name, kind);
    } catch {
      return OTHER_GROUP;
    }
    if (group === undefined) return undefined;
    if (typeof group !== 'string') return OTHER_GROUP;
    if (seen.has(group)) return group;
    if (seen.size >= MAX_LOCK_GROUPS) return OTHER_GROUP;
    seen.add(group);
    return group;
  };
}

function checkOptions(options: unknown): InstrumentationOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'must be an object');
  }
  const { lockGroup, lockNameOnSpans, meterProvider, tracerProvider } =
    options as InstrumentationOptions;
  if (lockGroup !== undefined && typeof lockGroup !== 'function') {
    throw new InvalidArgumentError('lockGroup', 'must be a function of the lock name');
  }
  if (lockNameOnSpans !== undefined && typeof lockNameOnSpans !== 'boolean') {
    throw new InvalidArgumentError('lockNameOnSpans', 'must be a boolean');
  }
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') {
    throw new InvalidArgumentError('meterProvider', 'must be a MeterProvider (getMeter)');
  }
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') {
    throw new InvalidArgumentError('tracerProvider', 'must be a TracerProvider (getTracer)');
  }
  return options as InstrumentationOptions;
}
