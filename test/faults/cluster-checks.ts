/**
 * Figures of the Cluster rows (C1–C4), over a run's rebuilt attempts and the checker's result:
 * how long nobody held the lock around each change of its shard, whether two holders overlapped
 * or a fencing token came twice, and what the promoted replica had. Pure functions; the
 * violations are the checker's (these add none).
 */
import { type Attempt, claimEnd, type Reconstruction } from './attempts.js';
import type { CheckResult, PropertyId } from './checker.js';
import type { MasterKill, ShardSpan } from './cluster-faults.js';
import type { ScenarioVerdict, VerifyInput } from './scenario.js';

/** A stretch of time in which no claim on the lock was in force. */
export interface Gap {
  readonly from: number;
  readonly to: number;
}

/**
 * The gaps between claims (grant … end of claim: release, loss signal, validity end or death,
 * as the checker rebuilds them), in time order. A claim that starts before the previous ones end
 * leaves no gap; the time before the first grant is no gap.
 */
export function gapsBetweenHolders(rebuilt: Reconstruction): Gap[] {
  const claims = rebuilt.attempts
    .filter((attempt): attempt is Attempt & { okAt: number } => attempt.okAt !== undefined)
    .map((attempt) => ({
      from: attempt.okAt,
      to: claimEnd(attempt, rebuilt.workers.get(attempt.worker)?.killedAt) ?? attempt.okAt,
    }))
    .sort((a, b) => a.from - b.from);
  const gaps: Gap[] = [];
  let coveredUntil = Number.NEGATIVE_INFINITY;
  for (const claim of claims) {
    if (claim.from > coveredUntil && Number.isFinite(coveredUntil)) {
      gaps.push({ from: coveredUntil, to: claim.from });
    }
    coveredUntil = Math.max(coveredUntil, claim.to);
  }
  return gaps;
}

/**
 * The longest gap that touches `span` (starts before it ends and ends after it starts): how long
 * the lock was unavailable around that change of its shard; 0 when it was held throughout.
 */
export function longestGapAround(gaps: readonly Gap[], span: ShardSpan): number {
  let longest = 0;
  for (const gap of gaps) {
    if (gap.from <= span.to && gap.to >= span.from) longest = Math.max(longest, gap.to - gap.from);
  }
  return longest;
}

function count(check: CheckResult, properties: readonly PropertyId[]): number {
  return check.violations.filter((violation) => properties.includes(violation.property)).length;
}

/** Grants (attempts) with a violation of any of `properties`, each counted once. */
function grantsWith(check: CheckResult, properties: readonly PropertyId[]): number {
  const attempts = check.violations
    .filter((violation) => properties.includes(violation.property))
    .map((violation) => violation.attempt ?? `${violation.at}`);
  return new Set(attempts).size;
}

function yesNo(n: number, what: string): string {
  return n === 0 ? 'no' : `yes (${n} ${what})`;
}

const ms = (value: number) => Math.round(value);

/** Grants within `spans` (their client-side success time). */
export function grantsWithin(rebuilt: Reconstruction, spans: readonly Gap[]): number {
  return rebuilt.attempts.filter(
    (attempt) =>
      attempt.okAt !== undefined &&
      spans.some(
        (span) => (attempt.okAt as number) >= span.from && (attempt.okAt as number) <= span.to,
      ),
  ).length;
}

/** Whether two holders overlapped and whether a fencing token came twice (or went back). */
export function exclusionFigures(check: CheckResult): Record<string, string> {
  const lease = count(check, ['lease-overlap']);
  const resource = count(check, ['resource-overlap']);
  const stale = count(check, ['stale-write-accepted']);
  return {
    'second holder overlapped':
      lease + resource === 0
        ? 'no'
        : `yes (${lease} lease overlaps, ${resource} at the resource, ${stale} stale writes accepted)`,
    'fencing token repeated': yesNo(
      grantsWith(check, ['duplicate-fence', 'token-regression']),
      'grants',
    ),
  };
}

/**
 * How many acquisitions granted by `before` drew a fencing token in (`above`, `upTo`]: the tokens
 * are clock readings, so their differences count time, not acquisitions.
 */
export function acquisitionsBetween(
  rebuilt: Reconstruction,
  above: number,
  upTo: number,
  before: number,
): number {
  return rebuilt.attempts.filter(
    (attempt) =>
      attempt.okAt !== undefined &&
      attempt.okAt <= before &&
      attempt.fence !== undefined &&
      attempt.fence > above &&
      attempt.fence <= upTo,
  ).length;
}

/**
 * C1: for each kill of the lock's master, how long the lock was unavailable around it (longest gap
 * between one holder's end and the next grant), how long the Cluster took to promote the replica,
 * and how many acquisitions the promoted replica never got (those granted before the kill with a
 * fencing token above the last one the replica had).
 */
export function masterKills({ rebuilt, check, kept }: VerifyInput): ScenarioVerdict {
  const kills = (kept.get('kills') as MasterKill[] | undefined) ?? [];
  const gaps = gapsBetweenHolders(rebuilt);
  const unavailable = kills.map((kill) => longestGapAround(gaps, kill));
  const lost = kills.map((kill) => {
    if (
      !rebuilt.attempts.some((attempt) => attempt.okAt !== undefined && attempt.okAt <= kill.from)
    ) {
      return '–';
    }
    if (kill.replicaFence === null) return 'last token missing on the replica';
    return String(
      acquisitionsBetween(rebuilt, kill.replicaFence, Number.POSITIVE_INFINITY, kill.from),
    );
  });
  return {
    violations: [],
    figures: {
      ...exclusionFigures(check),
      'lock unavailable around each kill ms': unavailable.map(ms).join(', ') || '–',
      'longest unavailable ms': ms(Math.max(0, ...unavailable)),
      'kill → replica serves ms': kills.map((kill) => ms(kill.to - kill.from)).join(', ') || '–',
      'acquisitions the promoted replica never got': lost.join(', ') || '–',
      'killed node rejoined as replica ms': kills.map((kill) => kill.restartMs).join(', ') || '–',
      acquisitions: check.operations.acquired,
    },
  };
}

/**
 * C2, C3: the longest gap around each change of the lock's shard (a migration, a failover), and
 * how many grants there were during the changes and in the whole run.
 */
export function shardChanges({ rebuilt, check, kept }: VerifyInput, what: string): ScenarioVerdict {
  const spans = (kept.get('spans') as ShardSpan[] | undefined) ?? [];
  const gaps = gapsBetweenHolders(rebuilt);
  const around = spans.map((span) => longestGapAround(gaps, span));
  return {
    violations: [],
    figures: {
      [`${what}s`]: spans.length,
      [`${what} ms`]: spans.map((span) => ms(span.to - span.from)).join(', ') || '–',
      [`longest gap between hand-overs around each ${what} ms`]: around.map(ms).join(', ') || '–',
      'longest gap ms': ms(Math.max(0, ...around)),
      [`acquisitions during the ${what}s`]: grantsWithin(rebuilt, spans),
      acquisitions: check.operations.acquired,
    },
  };
}

/**
 * C4: the gap around each stop of the lock's master, and how the holders caught in a stop learned
 * of the loss (their signal's reason) and how long after their rebuilt validity ended.
 */
export function shardStops({ rebuilt, check, kept }: VerifyInput): ScenarioVerdict {
  const spans = (kept.get('spans') as ShardSpan[] | undefined) ?? [];
  const gaps = gapsBetweenHolders(rebuilt);
  const around = spans.map((span) => longestGapAround(gaps, span));
  const caught = rebuilt.attempts.filter(
    (attempt) =>
      attempt.okAt !== undefined &&
      spans.some(
        (span) =>
          (attempt.okAt as number) < span.from && (claimEnd(attempt, undefined) ?? 0) > span.from,
      ),
  );
  const reasons = new Map<string, number>();
  const afterValidity: number[] = [];
  for (const attempt of caught) {
    const reason = attempt.lostReason ?? (attempt.releaseInvokeAt ? 'released first' : 'none');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    if (attempt.lostAt !== undefined && attempt.deadlineAt !== undefined) {
      afterValidity.push(attempt.lostAt - attempt.deadlineAt);
    }
  }
  return {
    violations: [],
    figures: {
      ...exclusionFigures(check),
      stops: spans.length,
      'longest gap around each stop ms': around.map(ms).join(', ') || '–',
      'holders caught by a stop': caught.length,
      'their loss signals': [...reasons].map(([reason, n]) => `${reason} ${n}`).join(', ') || '–',
      'signal after validity ms': afterValidity.map(ms).join(', ') || '–',
      acquisitions: check.operations.acquired,
    },
  };
}
