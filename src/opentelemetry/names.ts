/**
 * The names the OpenTelemetry integration records under, in one place. They follow the semantic
 * conventions' style (dotted lowercase, a namespace of our own, durations in seconds) so that
 * dashboards built for other instrumented libraries read ours the same way.
 */

/** Metric names; each one's unit and attributes are in its TSDoc. */
export const METRICS = {
  /**
   * Histogram, `s`: how long each wait for a lock took, whatever its end. Attributes: kind,
   * `latchkey.wait.outcome`, group.
   */
  waitDuration: 'latchkey.lock.wait.duration',
  /**
   * Histogram, `s`: how long each lock was held, from its acquisition to its release or loss.
   * Attributes: kind, group.
   */
  holdDuration: 'latchkey.lock.hold.duration',
  /** Counter, `{acquisition}`: locks acquired. Attributes: kind, group. */
  acquisitions: 'latchkey.lock.acquisitions',
  /**
   * Counter, `{timeout}`: waits that ran out (`tryAcquire` finding the lock held included).
   * Attributes: kind, group.
   */
  timeouts: 'latchkey.lock.timeouts',
  /**
   * Counter, `{loss}`: held locks known lost. Attributes: kind, `latchkey.lock.loss.reason`,
   * group.
   */
  losses: 'latchkey.lock.losses',
  /** UpDownCounter, `{holder}`: locks held now by this process. Attributes: kind, group. */
  holders: 'latchkey.lock.holders',
  /**
   * UpDownCounter, `{waiter}`: callers of this process waiting for a lock now. Attributes: kind,
   * group.
   */
  waiters: 'latchkey.lock.waiters',
} as const;

/** Span names: low cardinality, the lock's name is an attribute. */
export const SPANS = {
  /** From the start of an acquire to its end, acquired or not. */
  acquire: 'latchkey.acquire',
  /** From an acquisition to its release or loss; linked to the acquire span that got it. */
  hold: 'latchkey.hold',
} as const;

/** Attribute names on metrics and spans. */
export const ATTRIBUTES = {
  /** `'mutex'`, `'reentrant'`, `'semaphore'`, `'read-write'` or `'election'`. */
  kind: 'latchkey.lock.kind',
  /** What the `lockGroup` option maps the lock's name to; absent without it. */
  group: 'latchkey.lock.group',
  /** The lock's name: on spans only (unbounded), unless `lockNameOnSpans` is false. */
  name: 'latchkey.lock.name',
  /** The acquisition's fencing token, on spans. */
  fencingToken: 'latchkey.lock.fencing_token',
  /** How a wait ended: `'acquired'`, `'timeout'`, `'aborted'`, `'closed'` or `'error'`. */
  waitOutcome: 'latchkey.wait.outcome',
  /** Why a held lock was lost: `'expired'`, `'taken'`, `'max-hold'` or `'closed'`. */
  lossReason: 'latchkey.lock.loss.reason',
  /** What a release found: `'released'`, `'expired'`, `'taken'` or `'error'`, on the hold span. */
  releaseOutcome: 'latchkey.release.outcome',
  /** The semantic conventions' `error.type`: the error's `code`, or `_OTHER`, on failed spans. */
  errorType: 'error.type',
} as const;

/** The name of the span event that marks a loss on the hold span. */
export const LOST_EVENT = 'latchkey.lock.lost';

/**
 * Most distinct groups `lockGroup` may produce; names mapped to further groups are recorded as
 * `'_OTHER'`, so a mapping that turns out unbounded cannot swamp a metrics backend.
 */
export const MAX_LOCK_GROUPS = 100;
