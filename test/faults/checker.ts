/**
 * The checker of a fault run: pure functions over the workers' histories, the resource server's
 * log and the orchestrator's fault timeline. It reports every violation of the properties of
 * issue 4 / safety.md §5 it can see, and the figures the report prints.
 *
 * Properties (ids used in reports):
 * - lease-overlap (G1): two attempts claimed the lock at once, by the library's own validity.
 * - resource-overlap (G1 at the resource): the resource accepted a call (enter or write) from an
 *   attempt after an attempt granted later had already reached it: two holders acted at once.
 * - stale-write-accepted (G2): the same, for a write.
 * - token-regression / duplicate-fence (G2): a grant got a token not above every earlier grant's.
 * - acquire-after-validity, extend-after-validity, held-after-validity (G3): success, or
 *   `isHeld === true`, at or after the validity rebuilt from what Redis did with the recorded
 *   commands ran out; and (held-after-validity) a holder that reports a `remainingMs` reaching
 *   past that validity: it claims time the server did not give it (an extend that shortened the
 *   key, a release it did not notice).
 * - late-signal / missing-signal (G4): the lost signal came later than refreshMs + tolerance
 *   after the validity ended or a key loss became observable, or never came.
 * - slow-takeover (G5): after a holder's SIGKILL, no other worker held within ttl + 200 ms.
 * - op-timeout (G6): acquire outlived waitMs + commandTimeoutMs, extend or release outlived
 *   commandTimeoutMs (time frozen by the harness excluded; tolerance plus the worker's measured
 *   event-loop lag allowed).
 * - unexplained-success: an acquire succeeded without a recorded command that granted it.
 */
import {
  ACQUIRE_SCRIPTS,
  type Attempt,
  claimEnd,
  deadlineAt,
  frozenWithin,
  isGrant,
  reconstruct,
  thawedAt,
  type WorkerHistory,
  type WorkerTimeline,
} from './attempts.js';
import type { FaultEvent, ResourceEvent } from './events.js';
import { type Summary, summarize } from './stats.js';

export type PropertyId =
  | 'lease-overlap'
  | 'resource-overlap'
  | 'stale-write-accepted'
  | 'token-regression'
  | 'duplicate-fence'
  | 'acquire-after-validity'
  | 'extend-after-validity'
  | 'held-after-validity'
  | 'late-signal'
  | 'missing-signal'
  | 'slow-takeover'
  | 'op-timeout'
  | 'unexplained-success'
  // Scenario checks of issue 8 (scenarios.ts, issue8-checks.ts):
  | 'slow-handover'
  | 'abandoned-hold'
  | 'not-refused'
  | 'close-not-signalled'
  | 'missing-warning'
  | 'unexplained-error'
  // The soak (soak.ts, soak-analysis.ts):
  | 'keys-left'
  | 'memory-growth'
  | 'heap-growth';

export interface Violation {
  readonly property: PropertyId;
  readonly at: number;
  readonly worker?: string;
  readonly attempt?: string;
  readonly detail: string;
}

export interface RunLogs {
  readonly histories: readonly WorkerHistory[];
  readonly resource: readonly ResourceEvent[];
  readonly faults: readonly FaultEvent[];
  /** When the orchestrator stopped injecting and asked the workers to stop. */
  readonly endedAt: number;
}

export interface CheckOptions {
  /** Slack added to every timing bound, ms. */
  readonly toleranceMs: number;
  /** Extra slack for the takeover bound after a SIGKILL (issue 4: ttl + 200 ms). */
  readonly takeoverSlackMs: number;
  /**
   * When set, a holder that reads its signal must see a key loss within this (plus the worker's
   * measured event-loop lag): the loss comes by push (issue 11, item 4). Otherwise within
   * refreshMs + toleranceMs, at its next refresh.
   */
  readonly keyLossSignalMs?: number;
}

/** Rounding between the library's clock and the run's timebase (both monotonic), ms. */
const CLAIM_SLACK_MS = 1;

export const DEFAULT_CHECK_OPTIONS: CheckOptions = { toleranceMs: 100, takeoverSlackMs: 200 };

export interface Operations {
  readonly acquires: number;
  readonly acquired: number;
  readonly acquireFailures: Record<string, number>;
  readonly manualExtends: number;
  readonly extendFailures: number;
  readonly releases: Record<string, number>;
  readonly losses: Record<string, number>;
  readonly redisCommands: number;
  readonly abandonedGrants: number;
  readonly resourceCalls: number;
  readonly writesAccepted: number;
  readonly writesRejected: number;
}

export interface ResourceFigures {
  readonly overlaps: number;
  readonly staleWritesAccepted: number;
  /** Accepted calls whose token was below the highest seen (possible only when unfenced). */
  readonly belowMaxTokenAccepted: number;
  readonly rejected: number;
  /** Refused calls from the attempt granted last: the true holder was turned away. */
  readonly falseRejections: number;
  /** Accepted writes based on a value another write had already replaced. */
  readonly lostUpdates: number;
}

export interface LagFigures {
  readonly p99Max: number | null;
  readonly max: number | null;
  /** The same over windows with no injected freeze of that worker. */
  readonly unfaultedP99Max: number | null;
  readonly unfaultedMax: number | null;
}

export interface CheckResult {
  readonly operations: Operations;
  readonly violations: readonly Violation[];
  readonly resource: ResourceFigures;
  /** Lost signal after the validity ended (ms past the rebuilt deadline, or past the thaw). */
  readonly signalAfterValidityMs: Summary;
  /** Lost signal after a key loss became observable. */
  readonly signalAfterKeyLossMs: Summary;
  /** Holder SIGKILL to the next holder. */
  readonly takeoverMs: readonly number[];
  /** End of each outage, cut or key loss to the next successful acquire. */
  readonly recoveryMs: readonly { readonly fault: string; readonly ms: number | null }[];
  readonly opDurationMs: {
    readonly acquire: Summary;
    readonly extend: Summary;
    readonly release: Summary;
  };
  readonly lag: LagFigures;
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function workerOf(timelines: Map<string, WorkerTimeline>, attempt: Attempt) {
  return timelines.get(attempt.worker);
}

/** Holds of one reentrant owner: they share the lock, by design. */
function sameOwner(a: Attempt, b: Attempt): boolean {
  return a.owner !== undefined && a.owner === b.owner;
}

/**
 * G1: claims (grant … end of claim) of different attempts (of different owners, for a reentrant
 * lock) must not overlap, or, for a lock that
 * several may hold (a semaphore, readers), the weights of the claims in force at once must not
 * add up to more than its capacity (a writer weighs the whole capacity).
 */
export function leaseOverlaps(
  attempts: readonly Attempt[],
  timelines: Map<string, WorkerTimeline>,
): Violation[] {
  const claims = attempts
    .filter((attempt) => attempt.okAt !== undefined)
    .map((attempt) => ({
      attempt,
      from: attempt.okAt as number,
      to: claimEnd(attempt, workerOf(timelines, attempt)?.killedAt) ?? (attempt.okAt as number),
    }))
    .sort((a, b) => a.from - b.from);
  const violations: Violation[] = [];
  /** Claims granted so far that may still be in force (pruned as the grants move on). */
  let open: typeof claims = [];
  for (const second of claims) {
    open = open.filter((first) => first.to > second.from);
    // The claims granted before this one and still in force when it was granted.
    const during = open.filter((first) => !sameOwner(first.attempt, second.attempt));
    open.push(second);
    const held = during.reduce((sum, first) => sum + first.attempt.weight, 0);
    if (held + second.attempt.weight <= second.attempt.capacity) continue;
    const first = during.reduce((a, b) => (b.to < a.to ? b : a), during[0] as (typeof during)[0]);
    violations.push({
      property: 'lease-overlap',
      at: second.from,
      worker: second.attempt.worker,
      attempt: second.attempt.attempt,
      detail:
        second.attempt.capacity === 1
          ? `${second.attempt.attempt} (fence ${second.attempt.fence}) was granted ${(first.to - second.from).toFixed(1)} ms before the claim of ${first.attempt.attempt} (fence ${first.attempt.fence}) ended`
          : `${second.attempt.attempt} (fence ${second.attempt.fence}, weight ${second.attempt.weight}) was granted while claims of weight ${held} were in force (capacity ${second.attempt.capacity}): ${during.map((c) => c.attempt.attempt).join(', ')}`,
    });
  }
  return violations;
}

/**
 * G1 and G2 at the resource, judged by grant order (client grant times), not by token values:
 * once an attempt granted later has reached the resource, an older attempt must not get a call
 * (enter or write) accepted there. Each such older/newer pair is one resource-overlap; each such
 * accepted write is also a stale-write-accepted. Refused calls are fencing doing its job.
 *
 * Holders that may act side by side (a semaphore's) are judged by weight instead: a call of theirs
 * accepted while holders granted later are inside (entered, not exited, not killed) is a
 * resource-overlap when its weight and theirs add up to more than the capacity. Only holders
 * granted later count, as above: an older holder may still be on its way out when a newer one
 * enters, but it must not act after. Of more than capacity holders inside at once, the oldest
 * acts again (it writes, then exits), so the overlap is seen then.
 */
export function resourceAccess(
  events: readonly ResourceEvent[],
  attempts: readonly Attempt[],
  timelines: Map<string, WorkerTimeline> = new Map(),
): { violations: Violation[]; figures: ResourceFigures } {
  const grantedAt = new Map<string, number>();
  const shares = new Map<string, boolean>();
  const owners = new Map<string, string>();
  const byId = new Map<string, Attempt>();
  for (const attempt of attempts) {
    byId.set(attempt.attempt, attempt);
    if (attempt.okAt !== undefined) grantedAt.set(attempt.attempt, attempt.okAt);
    // Holders that may act beside others: a semaphore's, a read-write lock's readers, and the
    // holds of one reentrant owner.
    shares.set(attempt.attempt, attempt.weight < attempt.capacity);
    if (attempt.owner !== undefined) owners.set(attempt.attempt, attempt.owner);
  }
  const sideBySideOwner = (a: string, b: string) =>
    owners.has(a) && owners.get(a) === owners.get(b);
  const sideBySide = (a: string, b: string) =>
    (shares.get(a) === true && shares.get(b) === true) || sideBySideOwner(a, b);
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  const violations: Violation[] = [];
  const overlappingPairs = new Set<string>();
  let latestGrantSeen = Number.NEGATIVE_INFINITY;
  let latestAttemptSeen = '';
  let staleWritesAccepted = 0;
  let belowMaxTokenAccepted = 0;
  let rejected = 0;
  let falseRejections = 0;
  let lostUpdates = 0;
  /** Attempts that entered the resource and have not exited, each with its worker. */
  const inside = new Map<string, string>();
  const overweight = new Set<string>();
  for (const event of ordered) {
    const granted = grantedAt.get(event.attempt) ?? Number.NEGATIVE_INFINITY;
    const newerSeen = latestGrantSeen > granted;
    const self = byId.get(event.attempt);
    if (event.op !== 'exit' && event.accepted && self && shares.get(event.attempt)) {
      const newerInside = [...inside].filter(([other, worker]) => {
        const killedAt = timelines.get(worker)?.killedAt;
        return (
          other !== event.attempt &&
          (grantedAt.get(other) ?? Number.NEGATIVE_INFINITY) > granted &&
          !(killedAt !== undefined && killedAt <= event.at) &&
          !sideBySideOwner(event.attempt, other)
        );
      });
      const weight = newerInside.reduce(
        (sum, [other]) => sum + (byId.get(other)?.weight ?? 1),
        self.weight,
      );
      if (weight > self.capacity && !overweight.has(event.attempt)) {
        overweight.add(event.attempt);
        violations.push({
          property: 'resource-overlap',
          at: event.at,
          worker: event.worker,
          attempt: event.attempt,
          detail: `${event.op} of ${event.attempt} (fence ${event.fence}) accepted while ${newerInside.map(([other]) => other).join(', ')}, granted later, were inside: weight ${weight} over capacity ${self.capacity}`,
        });
      }
    }
    if (event.op === 'enter' && event.accepted) inside.set(event.attempt, event.worker);
    if (event.op === 'exit') inside.delete(event.attempt);
    if (event.op !== 'exit') {
      if (event.accepted && event.fence < event.maxFenceBefore) belowMaxTokenAccepted++;
      if (!event.accepted) {
        rejected++;
        if (!newerSeen) falseRejections++;
      }
      const pair = `${event.attempt} ${latestAttemptSeen}`;
      const allowed = sideBySide(event.attempt, latestAttemptSeen);
      if (event.accepted && newerSeen && !allowed && !overlappingPairs.has(pair)) {
        overlappingPairs.add(pair);
        violations.push({
          property: 'resource-overlap',
          at: event.at,
          worker: event.worker,
          attempt: event.attempt,
          detail: `${event.op} of ${event.attempt} (fence ${event.fence}) accepted after ${latestAttemptSeen}, granted later, had reached the resource`,
        });
      }
    }
    if (event.op === 'write' && event.accepted) {
      if (event.base !== undefined && event.base !== event.valueBefore) lostUpdates++;
      if (newerSeen && !sideBySide(event.attempt, latestAttemptSeen)) {
        staleWritesAccepted++;
        violations.push({
          property: 'stale-write-accepted',
          at: event.at,
          worker: event.worker,
          attempt: event.attempt,
          detail: `write of ${event.attempt} (fence ${event.fence}) accepted after ${latestAttemptSeen}, granted later, had reached the resource`,
        });
      }
    }
    if (granted > latestGrantSeen) {
      latestGrantSeen = granted;
      latestAttemptSeen = event.attempt;
    }
  }
  return {
    violations,
    figures: {
      overlaps: overlappingPairs.size + overweight.size,
      staleWritesAccepted,
      belowMaxTokenAccepted,
      rejected,
      falseRejections,
      lostUpdates,
    },
  };
}

/**
 * G2 at the source: fencing tokens must strictly increase in grant order. Holders that share the
 * lock (a semaphore's, readers) may see their grants in another order than the server drew their
 * tokens, so for them only this holds: a token above every token of an exclusive holder (a
 * writer) granted before, and a writer's token above every token granted before it.
 */
export function fenceOrder(attempts: readonly Attempt[]): Violation[] {
  const grants = attempts
    .filter((attempt) => attempt.okAt !== undefined && attempt.fence !== undefined)
    .sort((a, b) => (a.okAt as number) - (b.okAt as number));
  const violations: Violation[] = [];
  const seen = new Map<number, string>();
  let highest = Number.NEGATIVE_INFINITY;
  let highestAttempt = '';
  let highestExclusive = Number.NEGATIVE_INFINITY;
  let highestExclusiveAttempt = '';
  /** Each reentrant owner's latest fencing token: a hold joining the owner's hold shares it. */
  const ownerFence = new Map<string, number>();
  for (const attempt of grants) {
    const fence = attempt.fence as number;
    if (attempt.owner !== undefined) {
      const joined = ownerFence.get(attempt.owner) === fence;
      ownerFence.set(attempt.owner, fence);
      if (joined) continue;
    }
    const duplicateOf = seen.get(fence);
    if (duplicateOf !== undefined) {
      violations.push({
        property: 'duplicate-fence',
        at: attempt.okAt as number,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `fence ${fence} was also issued to ${duplicateOf}`,
      });
    }
    const shared = attempt.weight < attempt.capacity;
    const floor = shared ? highestExclusive : highest;
    if (fence <= floor) {
      violations.push({
        property: 'token-regression',
        at: attempt.okAt as number,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `fence ${fence} granted after fence ${floor} (${shared ? highestExclusiveAttempt : highestAttempt})`,
      });
    }
    if (fence > highest) {
      highest = fence;
      highestAttempt = attempt.attempt;
    }
    if (!shared && fence > highestExclusive) {
      highestExclusive = fence;
      highestExclusiveAttempt = attempt.attempt;
    }
    seen.set(fence, attempt.attempt);
  }
  return violations;
}

/** G3: no success and no `isHeld === true` at or after the rebuilt validity. */
export function successAfterValidity(attempts: readonly Attempt[]): Violation[] {
  const violations: Violation[] = [];
  for (const attempt of attempts) {
    if (attempt.okAt === undefined) continue;
    if (attempt.initialDeadline === undefined) {
      violations.push({
        property: 'unexplained-success',
        at: attempt.okAt,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: 'acquire succeeded but no recorded acquire command granted its token',
      });
      continue;
    }
    // The validity in force at the success: a multi-lock's early names are refreshed while it
    // waits for the later ones, so theirs may have moved on since the grant.
    const validAtSuccess = deadlineAt(attempt, attempt.okAt) ?? attempt.initialDeadline;
    if (attempt.okAt >= validAtSuccess) {
      violations.push({
        property: 'acquire-after-validity',
        at: attempt.okAt,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `acquire resolved ${(attempt.okAt - validAtSuccess).toFixed(1)} ms after its validity ended (command sent ${(attempt.okAt - (attempt.grantSentAt ?? 0)).toFixed(1)} ms earlier, ttl ${attempt.settings.ttlMs})`,
      });
    }
    for (const extend of attempt.extends) {
      if (extend.okAt === undefined) continue;
      const okAt = extend.okAt;
      // The extend reply that arrived last before the success (steps are in send order; on a
      // Cluster replies for one key can come back out of it, over another node's connection).
      const step = attempt.steps.reduce<(typeof attempt.steps)[number] | undefined>(
        (latest, candidate) =>
          candidate.kind === 'extend' &&
          candidate.replyAt <= okAt &&
          (latest === undefined || candidate.replyAt >= latest.replyAt)
            ? candidate
            : latest,
        undefined,
      );
      const validUntil = step?.before ?? attempt.initialDeadline;
      if (!step?.extended || okAt >= validUntil) {
        violations.push({
          property: 'extend-after-validity',
          at: okAt,
          worker: attempt.worker,
          attempt: attempt.attempt,
          detail: step?.extended
            ? `extend resolved at ${(okAt - validUntil).toFixed(1)} ms relative to the validity it extended`
            : 'extend resolved without a recorded reply that extended the key',
        });
      }
    }
    for (const claim of attempt.claims) {
      const lost = attempt.lostAt !== undefined && claim.at >= attempt.lostAt;
      const validUntil = deadlineAt(attempt, claim.at) ?? attempt.initialDeadline;
      const past = claim.until - validUntil;
      // remainingMs 0 claims nothing, and a claim made after the validity ended is reported above
      // (or as acquire-after-validity).
      if (lost || claim.until <= claim.at || claim.at >= validUntil || past <= CLAIM_SLACK_MS) {
        continue;
      }
      violations.push({
        property: 'held-after-validity',
        at: claim.at,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `${claim.what === 'acquire' ? 'acquire' : 'isHeld'} claimed remainingMs reaching ${past.toFixed(1)} ms past the validity the server gave (its earliest expiry minus drift)`,
      });
    }
    for (const check of attempt.checks) {
      if (!check.held) continue;
      const validUntil = deadlineAt(attempt, check.at) ?? attempt.initialDeadline;
      const lost = attempt.lostAt !== undefined && check.at >= attempt.lostAt;
      if (check.at >= validUntil || lost) {
        violations.push({
          property: 'held-after-validity',
          at: check.at,
          worker: attempt.worker,
          attempt: attempt.attempt,
          detail: lost
            ? 'isHeld was true after the lost signal'
            : `isHeld was true ${(check.at - validUntil).toFixed(1)} ms after the validity ended`,
        });
      }
    }
  }
  return violations;
}

/** G4: the lost signal must follow the end of validity, or an observable key loss, promptly. */
export function lossSignals(
  attempts: readonly Attempt[],
  timelines: Map<string, WorkerTimeline>,
  faults: readonly FaultEvent[],
  endedAt: number,
  options: CheckOptions,
): { violations: Violation[]; afterValidity: number[]; afterKeyLoss: number[] } {
  const violations: Violation[] = [];
  const afterValidity: number[] = [];
  const afterKeyLoss: number[] = [];
  for (const attempt of attempts) {
    if (attempt.okAt === undefined || attempt.deadlineAt === undefined) continue;
    const okAt = attempt.okAt;
    const timeline = workerOf(timelines, attempt);
    const bound = attempt.settings.refreshMs + options.toleranceMs;
    const releasedAt = attempt.releaseInvokeAt ?? Number.POSITIVE_INFINITY;
    const stillClaiming = (t: number) => t < releasedAt;
    const references: { kind: 'validity' | 'key-loss'; at: number }[] = [];
    if (stillClaiming(attempt.deadlineAt)) {
      references.push({ kind: 'validity', at: thawedAt(timeline, attempt.deadlineAt) });
    }
    for (const fault of faults) {
      if (fault.kind !== 'key-loss') continue;
      if (fault.at <= okAt || !stillClaiming(fault.at) || fault.at >= attempt.deadlineAt) continue;
      references.push({ kind: 'key-loss', at: thawedAt(timeline, fault.observableAt) });
    }
    if (references.length === 0) continue;
    const boundOf = (reference: (typeof references)[number]) =>
      reference.kind === 'key-loss' && options.keyLossSignalMs !== undefined
        ? options.keyLossSignalMs + lagWithin(timeline, reference.at, reference.at + bound)
        : bound;
    const due = references.reduce((first, reference) =>
      reference.at + boundOf(reference) < first.at + boundOf(first) ? reference : first,
    );
    const dueBound = boundOf(due);
    const dueAt = due.at + dueBound;
    const lostAt = attempt.lostAt;
    for (const reference of references) {
      if (lostAt === undefined || lostAt < reference.at - 1) continue;
      (reference.kind === 'validity' ? afterValidity : afterKeyLoss).push(lostAt - reference.at);
    }
    const killedBefore = timeline?.killedAt !== undefined && timeline.killedAt <= dueAt;
    if (lostAt === undefined) {
      if (releasedAt <= dueAt || killedBefore || dueAt > endedAt) continue;
      violations.push({
        property: 'missing-signal',
        at: dueAt,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `no lost signal, and no release, by ${dueBound} ms after the lock stopped being valid`,
      });
    } else if (lostAt > dueAt && !killedBefore) {
      violations.push({
        property: 'late-signal',
        at: lostAt,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `lost signal (${attempt.lostReason}) ${(lostAt - dueAt + dueBound).toFixed(1)} ms after the lock stopped being valid (${due.kind}, bound ${dueBound.toFixed(1)} ms)`,
      });
    }
  }
  return { violations, afterValidity, afterKeyLoss };
}

/** One acquisition's asking for one lock key: a token's acquire commands on that key. */
export interface KeyAsk {
  readonly worker: string;
  /** Its first acquire command on the key was sent then. */
  readonly firstSentAt: number;
  /** A reply granted it the key then (by a command; not a grant by another's release). */
  grantedAt?: number;
}

/**
 * Who asked for each lock key and when they got it, with each token's key, from the recorded
 * commands: a multi-lock's names are asked for one by one (in sorted order, after the earlier
 * ones are held), and a name taken by an acquisition that then timed out on a later name was
 * taken all the same.
 */
export function asksByKey(histories: readonly WorkerHistory[]): {
  keyOf: Map<string, string>;
  asks: Map<string, KeyAsk[]>;
} {
  const keyOf = new Map<string, string>();
  const byToken = new Map<string, KeyAsk>();
  const asks = new Map<string, KeyAsk[]>();
  for (const history of histories) {
    for (const event of history.events) {
      if (event.kind !== 'command' || event.key === undefined) continue;
      keyOf.set(event.token, event.key);
      if (!ACQUIRE_SCRIPTS.has(event.script)) continue;
      let ask = byToken.get(event.token);
      if (!ask) {
        ask = { worker: history.worker, firstSentAt: event.sentAt };
        byToken.set(event.token, ask);
        const list = asks.get(event.key);
        if (list) list.push(ask);
        else asks.set(event.key, [ask]);
      }
      if (isGrant(event) && ask.grantedAt === undefined) ask.grantedAt = event.at;
    }
  }
  return { keyOf, asks };
}

/**
 * G5 for one name of a multi-lock: a name is asked for only by acquisitions that hold the names
 * before it, so it may lie free with nobody waiting. The bound applies to those that asked for
 * it by the time the killed holder's ttl ran out: the first of them must get it within ttl +
 * slack, unless all gave up sooner (their own waitMs). Returns the takeover time, or a violation.
 */
function nameTakeover(
  fault: { at: number; worker: string },
  asks: readonly KeyAsk[],
  attempts: readonly Attempt[],
  ttlMs: number,
  bound: number,
  endedAt: number,
): { ms?: number; late?: number } {
  /** Until when an ask was waiting: its grant, or the end of its worker's acquisition. */
  const waitingUntil = (ask: KeyAsk) => {
    if (ask.grantedAt !== undefined) return ask.grantedAt;
    const attempt = attempts.find(
      (candidate) =>
        candidate.worker === ask.worker &&
        candidate.invokeAt <= ask.firstSentAt &&
        (candidate.okAt ?? candidate.failAt ?? endedAt) >= ask.firstSentAt,
    );
    return attempt?.okAt ?? attempt?.failAt ?? endedAt;
  };
  const waiters = asks.filter(
    (ask) =>
      ask.worker !== fault.worker &&
      ask.firstSentAt <= fault.at + ttlMs &&
      waitingUntil(ask) > fault.at,
  );
  if (waiters.length === 0) return {};
  const grants = waiters.map((ask) => ask.grantedAt).filter((at): at is number => at !== undefined);
  const first = grants.length > 0 ? Math.min(...grants) - fault.at : undefined;
  if (first !== undefined && first <= bound) return { ms: first };
  const stillWaiting = waiters.some((ask) => waitingUntil(ask) > fault.at + bound);
  return stillWaiting ? { ...(first === undefined ? {} : { ms: first }), late: first ?? -1 } : {};
}

/**
 * G5: after a holder's SIGKILL, another worker holds within ttl + slack. For a name of a
 * multi-lock (an attempt with a `lock`), see `nameTakeover`: the hold as a whole starts when
 * every name is in, later by the other names' own waits, so the bound is on the name.
 */
export function takeovers(
  attempts: readonly Attempt[],
  faults: readonly FaultEvent[],
  endedAt: number,
  options: CheckOptions,
  keys?: ReturnType<typeof asksByKey>,
): { violations: Violation[]; takeoverMs: number[] } {
  const violations: Violation[] = [];
  const takeoverMs: number[] = [];
  for (const fault of faults) {
    if (fault.kind !== 'worker-kill') continue;
    const victim = attempts.find(
      (attempt) =>
        attempt.worker === fault.worker &&
        attempt.okAt !== undefined &&
        attempt.okAt <= fault.at &&
        (claimEnd(attempt, undefined) ?? 0) > fault.at,
    );
    if (!victim) continue;
    const ttlMs = victim.settings.ttlMs;
    const bound = ttlMs + options.takeoverSlackMs;
    const key = victim.lock === undefined ? undefined : keys?.keyOf.get(victim.token ?? '');
    if (key !== undefined) {
      const asks = keys?.asks.get(key) ?? [];
      const { ms, late } = nameTakeover(fault, asks, attempts, ttlMs, bound, endedAt);
      if (ms !== undefined) takeoverMs.push(ms);
      if (late !== undefined) {
        violations.push({
          property: 'slow-takeover',
          at: fault.at + bound,
          worker: fault.worker,
          detail:
            late < 0
              ? `no waiter got ${victim.lock} after ${fault.worker} was killed holding it`
              : `${victim.lock} taken ${late.toFixed(1)} ms after the SIGKILL of ${fault.worker} while others waited for it (bound ${bound} ms)`,
        });
      }
      continue;
    }
    const next = attempts
      .filter((attempt) => attempt.worker !== fault.worker && (attempt.okAt ?? 0) > fault.at)
      .sort((a, b) => (a.okAt as number) - (b.okAt as number))[0];
    if (next?.okAt === undefined) {
      if (endedAt - fault.at > bound) {
        violations.push({
          property: 'slow-takeover',
          at: fault.at,
          worker: fault.worker,
          detail: `no other worker acquired after ${fault.worker} was killed holding ${victim.attempt}`,
        });
      }
      continue;
    }
    const elapsed = next.okAt - fault.at;
    takeoverMs.push(elapsed);
    if (elapsed > bound) {
      violations.push({
        property: 'slow-takeover',
        at: next.okAt,
        worker: next.worker,
        attempt: next.attempt,
        detail: `next holder ${elapsed.toFixed(1)} ms after the SIGKILL of ${fault.worker} (bound ${bound} ms)`,
      });
    }
  }
  return { violations, takeoverMs };
}

/** Time from the end of each disruptive fault to the next grant (a measure, not a property). */
export function recoveries(
  attempts: readonly Attempt[],
  faults: readonly FaultEvent[],
): { fault: string; ms: number | null }[] {
  const grants = attempts
    .map((attempt) => attempt.okAt)
    .filter((at): at is number => at !== undefined)
    .sort((a, b) => a - b);
  const result: { fault: string; ms: number | null }[] = [];
  for (const fault of faults) {
    let from: number;
    let label: string;
    if (fault.kind === 'redis-outage' || fault.kind === 'network') {
      from = fault.until;
      label = fault.what;
    } else if (fault.kind === 'key-loss') {
      from = fault.observableAt;
      label = fault.what;
    } else if (fault.kind === 'worker-freeze') {
      from = fault.at;
      label = `freeze of ${fault.worker}`;
    } else continue;
    const next = grants.find((at) => at > from);
    result.push({ fault: label, ms: next === undefined ? null : next - from });
  }
  return result;
}

function lagWithin(timeline: WorkerTimeline | undefined, from: number, to: number): number {
  let worst = 0;
  for (const window of timeline?.lag ?? []) {
    if (window.at >= from && window.windowStart <= to) worst = Math.max(worst, window.max);
  }
  return worst;
}

/** G6: every operation settles within its configured time (frozen time excluded). */
export function operationBounds(
  attempts: readonly Attempt[],
  timelines: Map<string, WorkerTimeline>,
  options: CheckOptions,
): {
  violations: Violation[];
  durations: { acquire: number[]; extend: number[]; release: number[] };
} {
  const violations: Violation[] = [];
  const durations = { acquire: [] as number[], extend: [] as number[], release: [] as number[] };
  const judge = (
    attempt: Attempt,
    op: 'acquire' | 'extend' | 'release',
    from: number,
    to: number | undefined,
    boundMs: number,
  ) => {
    const timeline = workerOf(timelines, attempt);
    if (to === undefined) return;
    const elapsed = to - from - frozenWithin(timeline, from, to);
    durations[op].push(elapsed);
    const allowed = boundMs + options.toleranceMs + lagWithin(timeline, from, to);
    if (elapsed > allowed) {
      violations.push({
        property: 'op-timeout',
        at: to,
        worker: attempt.worker,
        attempt: attempt.attempt,
        detail: `${op} took ${elapsed.toFixed(1)} ms (bound ${boundMs} ms + ${(allowed - boundMs).toFixed(1)} ms slack)`,
      });
    }
  };
  for (const attempt of attempts) {
    const { waitMs, commandTimeoutMs } = attempt.settings;
    judge(
      attempt,
      'acquire',
      attempt.invokeAt,
      attempt.okAt ?? attempt.failAt,
      waitMs + commandTimeoutMs,
    );
    for (const extend of attempt.extends) {
      judge(attempt, 'extend', extend.invokeAt, extend.okAt ?? extend.failAt, commandTimeoutMs);
    }
    if (attempt.releaseInvokeAt !== undefined) {
      judge(attempt, 'release', attempt.releaseInvokeAt, attempt.releaseAt, commandTimeoutMs);
    }
  }
  return { violations, durations };
}

function lagFigures(timelines: Map<string, WorkerTimeline>): LagFigures {
  let p99Max: number | null = null;
  let max: number | null = null;
  let unfaultedP99Max: number | null = null;
  let unfaultedMax: number | null = null;
  for (const timeline of timelines.values()) {
    for (const window of timeline.lag) {
      p99Max = Math.max(p99Max ?? 0, window.p99);
      max = Math.max(max ?? 0, window.max);
      // The first window after a thaw still holds the sampler's own late tick: skip it too.
      if (frozenWithin(timeline, window.windowStart - 100, window.at + 100) > 0) continue;
      unfaultedP99Max = Math.max(unfaultedP99Max ?? 0, window.p99);
      unfaultedMax = Math.max(unfaultedMax ?? 0, window.max);
    }
  }
  return { p99Max, max, unfaultedP99Max, unfaultedMax };
}

function operations(
  attempts: readonly Attempt[],
  histories: readonly WorkerHistory[],
  timelines: Map<string, WorkerTimeline>,
  resource: readonly ResourceEvent[],
): Operations {
  const acquireFailures: Record<string, number> = {};
  const releases: Record<string, number> = {};
  const losses: Record<string, number> = {};
  let manualExtends = 0;
  let extendFailures = 0;
  for (const attempt of attempts) {
    if (attempt.failCode !== undefined) count(acquireFailures, attempt.failCode);
    if (attempt.releaseOutcome !== undefined) count(releases, attempt.releaseOutcome);
    if (attempt.releaseFailed) count(releases, 'failed');
    if (attempt.lostReason !== undefined) count(losses, attempt.lostReason);
    manualExtends += attempt.extends.length;
    extendFailures += attempt.extends.filter((extend) => extend.failAt !== undefined).length;
  }
  const writes = resource.filter((event) => event.op === 'write');
  return {
    acquires: attempts.length,
    acquired: attempts.filter((attempt) => attempt.okAt !== undefined).length,
    acquireFailures,
    manualExtends,
    extendFailures,
    releases,
    losses,
    redisCommands: histories.reduce(
      (total, history) => total + history.events.filter((event) => event.kind === 'command').length,
      0,
    ),
    abandonedGrants: [...timelines.values()].reduce((total, t) => total + t.abandonedGrants, 0),
    resourceCalls: resource.length,
    writesAccepted: writes.filter((event) => event.accepted).length,
    writesRejected: writes.filter((event) => !event.accepted).length,
  };
}

/** The lock an attempt is on: its name when the run has several (a multi-lock's), else one. */
function lockOf(attempt: Attempt): string {
  return attempt.lock ?? '';
}

/**
 * The run split per lock name: holds on different names never conflict, so exclusion, fencing
 * order and takeovers are judged name by name. A resource call belongs to its attempt's lock.
 */
function perLock(
  attempts: readonly Attempt[],
  events: readonly ResourceEvent[],
): { attempts: Attempt[]; events: ResourceEvent[] }[] {
  const groups = new Map<string, { attempts: Attempt[]; events: ResourceEvent[] }>();
  const groupOf = (lock: string) => {
    let group = groups.get(lock);
    if (!group) {
      group = { attempts: [], events: [] };
      groups.set(lock, group);
    }
    return group;
  };
  const lockOfAttempt = new Map<string, string>();
  for (const attempt of attempts) {
    groupOf(lockOf(attempt)).attempts.push(attempt);
    lockOfAttempt.set(attempt.attempt, lockOf(attempt));
  }
  for (const event of events) groupOf(lockOfAttempt.get(event.attempt) ?? '').events.push(event);
  return [...groups.values()];
}

function sumFigures(all: readonly ResourceFigures[]): ResourceFigures {
  const total = (key: keyof ResourceFigures) => all.reduce((sum, figures) => sum + figures[key], 0);
  return {
    overlaps: total('overlaps'),
    staleWritesAccepted: total('staleWritesAccepted'),
    belowMaxTokenAccepted: total('belowMaxTokenAccepted'),
    rejected: total('rejected'),
    falseRejections: total('falseRejections'),
    lostUpdates: total('lostUpdates'),
  };
}

/** Runs every check over one run's logs. */
export function checkRun(
  logs: RunLogs,
  options: CheckOptions = DEFAULT_CHECK_OPTIONS,
): CheckResult {
  const { attempts, workers } = reconstruct(logs.histories, logs.faults);
  const keys = asksByKey(logs.histories);
  const exclusion: Violation[] = [];
  const figures: ResourceFigures[] = [];
  const takeoverMs: number[] = [];
  for (const lock of perLock(attempts, logs.resource)) {
    const access = resourceAccess(lock.events, lock.attempts, workers);
    const takeover = takeovers(lock.attempts, logs.faults, logs.endedAt, options, keys);
    exclusion.push(
      ...leaseOverlaps(lock.attempts, workers),
      ...access.violations,
      ...fenceOrder(lock.attempts),
      ...takeover.violations,
    );
    figures.push(access.figures);
    takeoverMs.push(...takeover.takeoverMs);
  }
  const signals = lossSignals(attempts, workers, logs.faults, logs.endedAt, options);
  const bounds = operationBounds(attempts, workers, options);
  const violations = [
    ...exclusion,
    ...successAfterValidity(attempts),
    ...signals.violations,
    ...bounds.violations,
  ].sort((a, b) => a.at - b.at);
  return {
    operations: operations(attempts, logs.histories, workers, logs.resource),
    violations,
    resource: sumFigures(figures),
    signalAfterValidityMs: summarize(signals.afterValidity),
    signalAfterKeyLossMs: summarize(signals.afterKeyLoss),
    takeoverMs,
    recoveryMs: recoveries(attempts, logs.faults),
    opDurationMs: {
      acquire: summarize(bounds.durations.acquire),
      extend: summarize(bounds.durations.extend),
      release: summarize(bounds.durations.release),
    },
    lag: lagFigures(workers),
  };
}
